import { useMutation, useQueryClient } from '@tanstack/react-query';
import { useRef, useState } from 'react';
import { api } from '../../api/client';
import type { SampleHealth } from '../../api/health';
import { keys, useLimits } from '../../api/queries';
import type { Golden } from '../../api/types';
import { AuthImage } from '../../components/AuthImage';
import { Dropzone } from '../../components/Dropzone';
import { ErrorBanner, Notice } from '../../components/ErrorBanner';
import { ProgressBar } from '../../components/ProgressBar';
import { Tip } from '../../components/Tip';
import { plural } from '../../format';
import { SampleHealthBadge } from '../../health/SampleHealthBadge';

/** Refreshes a product and the product list after a change to it. */
export function useProductChanged(name: string) {
  const queryClient = useQueryClient();
  return () =>
    Promise.all([
      queryClient.invalidateQueries({ queryKey: keys.product(name) }),
      queryClient.invalidateQueries({ queryKey: keys.products }),
    ]);
}

export const uploadKey = (name: string) => ['upload', name];

/** health: the active version's view of each sample (leave-one-out score, outlier warning), when there is one. */
export function GoldenSamples({ name, samples, building, health }: { name: string; samples: Golden[]; building: boolean; health?: SampleHealth[] }) {
  const changed = useProductChanged(name);
  const [rejected, setRejected] = useState<string[]>([]);
  // Photos dropped while an upload runs wait here and go up when it has finished; if it failed, they are
  // named instead, since the same refusal would likely meet them.
  const queue = useRef<File[]>([]);
  const [queued, setQueued] = useState(0);
  const [notSent, setNotSent] = useState<string[]>([]);
  const upload = useMutation({
    mutationKey: uploadKey(name),
    mutationFn: (files: File[]) => api.uploadGolden(name, files),
    onSuccess: changed,
    onSettled: (_data, error) => {
      const next = queue.current;
      queue.current = [];
      setQueued(0);
      if (!next.length) return;
      if (error) setNotSent(next.map((f) => f.name));
      else upload.mutate(next);
    },
  });
  const remove = useMutation({ mutationFn: (g: Golden) => api.deleteGolden(name, g.id), onSuccess: changed });
  const error = rejected.length ? new Error(`Not images, left out: ${rejected.join(', ')}.`) : (upload.error ?? remove.error);
  const added = upload.data;
  const limits = useLimits().data;

  return (
    <section className="card" aria-label="Golden samples">
      <div className="card-head">
        <h2>
          Golden samples <span className="count" data-testid="golden-count">{samples.length}</span>
        </h2>
      </div>
      <Dropzone
        testId="golden-drop"
        label="Drop photos of good parts here, or click to choose"
        hint={`${limits ? `Up to ${plural(limits.max_golden, 'image')} per product, ${limits.max_files} per upload; ` : ''}JPEG, PNG, BMP or TIFF. Duplicates are skipped.`}
        onFiles={(files) => {
          setRejected([]);
          setNotSent([]);
          if (upload.isPending) {
            queue.current = [...queue.current, ...files];
            setQueued(queue.current.length);
            return;
          }
          remove.reset();
          upload.mutate(files);
        }}
        onRejected={setRejected}
      />
      {upload.isPending && <ProgressBar label={`Uploading ${plural(upload.variables.length, 'image')}…`} />}
      {queued > 0 && <Notice>{plural(queued, 'more image')} queued, to upload when this upload has finished.</Notice>}
      <ErrorBanner
        error={notSent.length ? new Error(`The upload failed, so the images dropped while it ran were not sent: ${notSent.join(', ')}.`) : null}
        onDismiss={() => setNotSent([])}
      />
      <ErrorBanner
        error={error}
        onDismiss={() => {
          setRejected([]);
          upload.reset();
          remove.reset();
        }}
      />
      {added && (
        <Notice>
          {plural(added.items.length, 'golden sample')} added.
          {added.duplicates.length > 0 && ` Already among the samples, skipped: ${added.duplicates.join(', ')}.`}
        </Notice>
      )}
      {samples.length > 0 && (
        <ul className="thumbs" data-testid="golden-thumbs">
          {samples.map((g) => (
            <li key={g.id} className="thumb">
              <AuthImage src={g.image_url} alt={g.filename} loading="lazy" />
              <div className="thumb-caption" title={g.filename}>
                {g.filename}
              </div>
              <SampleHealthBadge health={health?.find((h) => h.golden_id === g.id)} />
              <Tip text="Remove this sample">
                <button
                  type="button"
                  className="thumb-remove"
                  aria-label={`Remove ${g.filename}`}
                  disabled={remove.isPending || building}
                  onClick={() => remove.mutate(g)}
                >
                  ✕
                </button>
              </Tip>
            </li>
          ))}
        </ul>
      )}
    </section>
  );
}
