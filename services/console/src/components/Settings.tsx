import * as Popover from '@radix-ui/react-popover';
import { useState } from 'react';
import { getApiKey, setApiKey } from '../api/client';

/** The optional API key, kept in this browser's localStorage and sent as X-API-Key. Escape or a click
 * outside closes it; focus goes into it on opening and back to the button on closing. */
export function Settings({ onChanged }: { onChanged: () => void }) {
  const [value, setValue] = useState(getApiKey());
  const [saved, setSaved] = useState<string | null>(null);
  const has = getApiKey() !== '';
  const save = (key: string) => {
    setValue(key);
    setApiKey(key);
    setSaved(key.trim() ? 'API key saved in this browser.' : 'API key removed.');
    onChanged();
  };
  return (
    <Popover.Root onOpenChange={() => setSaved(null)}>
      <Popover.Trigger className="btn btn-quiet">Settings{has ? ' · key set' : ''}</Popover.Trigger>
      <Popover.Portal>
        <Popover.Content className="settings-panel" align="end" sideOffset={8} aria-label="Settings">
          <form
            onSubmit={(e) => {
              e.preventDefault();
              save(value);
            }}
          >
            <label>
              API key
              <input
                type="password"
                autoComplete="off"
                value={value}
                placeholder="only if the server requires one"
                onChange={(e) => {
                  setValue(e.target.value);
                  setSaved(null);
                }}
              />
            </label>
            <div className="row">
              <button type="submit" className="btn btn-primary">
                Save
              </button>
              <button type="button" className="btn" onClick={() => save('')}>
                Clear
              </button>
            </div>
            {saved && (
              <div className="muted small" role="status">
                {saved}
              </div>
            )}
            <p className="muted small">Sent as the X-API-Key header with every request. Stored only in this browser.</p>
          </form>
        </Popover.Content>
      </Popover.Portal>
    </Popover.Root>
  );
}
