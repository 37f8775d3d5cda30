import { useState } from 'react';
import { getApiKey, setApiKey } from '../api/client';

/** The optional API key, kept in this browser's localStorage and sent as X-API-Key. */
export function Settings({ onChanged }: { onChanged: () => void }) {
  const [open, setOpen] = useState(false);
  const [value, setValue] = useState(getApiKey());
  const [saved, setSaved] = useState<string | null>(null);
  const has = getApiKey() !== '';
  return (
    <div className="settings">
      <button type="button" className="btn btn-quiet" aria-expanded={open} onClick={() => setOpen(!open)}>
        Settings{has ? ' · key set' : ''}
      </button>
      {open && (
        <form
          className="settings-panel"
          aria-label="Settings"
          onSubmit={(e) => {
            e.preventDefault();
            setApiKey(value);
            setSaved(value.trim() ? 'API key saved in this browser.' : 'API key removed.');
            onChanged();
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
            <button
              type="button"
              className="btn"
              onClick={() => {
                setValue('');
                setApiKey('');
                setSaved('API key removed.');
                onChanged();
              }}
            >
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
      )}
    </div>
  );
}
