import { useState } from 'react';
import { Dropzone } from '../../components/Dropzone';
import { ErrorBanner } from '../../components/ErrorBanner';
import { Tip } from '../../components/Tip';
import { fmtBytes, plural } from '../../format';

interface Props {
  /** No fingerprint yet: nothing can be inspected. */
  disabled: boolean;
  /** A run is under way. */
  busy: boolean;
  /** Runs the staged images; they are cleared once it has worked. */
  onRun: (files: File[]) => Promise<unknown>;
  /** The run's progress, under the staged images. */
  children?: React.ReactNode;
}

const id = (f: File) => `${f.name}:${f.size}`;

/** Images dropped or picked for inspection, each removable, run as one inspection or as a batch. */
export function StagedFiles({ disabled, busy, onRun, children }: Props) {
  const [staged, setStaged] = useState<File[]>([]);
  const [rejected, setRejected] = useState<string[]>([]);
  const totalBytes = staged.reduce((s, f) => s + f.size, 0);
  return (
    <section className="card" aria-label="Images to inspect">
      <Dropzone
        testId="inspect-drop"
        label="Drop one or many part photos here, or click to choose"
        hint="One image is inspected at once; several run as a batch."
        disabled={disabled || busy}
        onFiles={(files) => {
          setRejected([]);
          setStaged((cur) => {
            const seen = new Set(cur.map(id));
            return [...cur, ...files.filter((f) => !seen.has(id(f)))];
          });
        }}
        onRejected={setRejected}
      />
      <ErrorBanner
        error={rejected.length ? new Error(`Not images, left out: ${rejected.join(', ')}.`) : null}
        onDismiss={() => setRejected([])}
      />
      {staged.length > 0 && (
        <div className="staged">
          <ul className="chips" aria-label="Images ready to inspect">
            {staged.map((f) => (
              <li key={id(f)} className="chip">
                {f.name}
                <Tip text="Leave this image out">
                  <button
                    type="button"
                    className="link"
                    aria-label={`Remove ${f.name}`}
                    disabled={busy}
                    onClick={() => setStaged((cur) => cur.filter((x) => x !== f))}
                  >
                    ✕
                  </button>
                </Tip>
              </li>
            ))}
          </ul>
          <div className="row wrap">
            <button
              type="button"
              className="btn btn-primary"
              // a failed run keeps the images staged; the page shows why
              onClick={() => onRun(staged).then(() => setStaged([]), () => {})}
              disabled={disabled || busy}
              data-testid="run"
            >
              {staged.length === 1 ? 'Run inspection' : `Run batch of ${staged.length}`}
            </button>
            <button type="button" className="btn" onClick={() => setStaged([])} disabled={busy}>
              Clear
            </button>
            <span className="muted small">
              {plural(staged.length, 'image')} · {fmtBytes(totalBytes)}
            </span>
          </div>
        </div>
      )}
      {children}
    </section>
  );
}
