import { useMutation, useQueryClient } from '@tanstack/react-query';
import { useEffect, useRef, useState } from 'react';
import { Link, useNavigate, useParams } from 'react-router';
import { api, plainMessage } from '../api/client';
import { keys, useBatchResults, useInspection, useInspectionPage, useJob } from '../api/queries';
import type { Inspection, Product } from '../api/types';
import { defaultProduct, useProductList } from '../App';
import { ErrorBanner, Notice } from '../components/ErrorBanner';
import { InspectionViewer } from '../components/InspectionViewer';
import { LabelPanel } from '../components/LabelPanel';
import { NoFingerprint } from '../components/NoFingerprint';
import { Pager } from '../components/Pager';
import { ProductPicker } from '../components/ProductPicker';
import { ProgressBar } from '../components/ProgressBar';
import { ResultsTable } from '../components/ResultsTable';
import { plural } from '../format';
import { batchFailures, jobFraction } from '../jobs';
import { paths } from '../paths';
import { RegionExplanations } from './inspect/RegionExplanations';
import { SeenBefore } from './inspect/SeenBefore';
import { StagedFiles } from './inspect/StagedFiles';

export function InspectPage() {
  const products = useProductList();
  const navigate = useNavigate();
  const params = useParams();
  const productName = params.product ?? defaultProduct(products);
  const product = products.find((p) => p.name === productName) ?? null;
  return (
    <div className="stack-v">
      <div className="card toolbar">
        <ProductPicker products={products} value={product?.name ?? null} onChange={(n) => navigate(paths.inspect(n))} needFingerprint />
        {product && (
          <span className="muted small">
            {product.fingerprint
              ? `fingerprint v${product.fingerprint.version} · threshold ${product.fingerprint.threshold.toFixed(3)}`
              : 'no fingerprint yet'}
          </span>
        )}
      </div>
      {productName && !product && products.length > 0 && (
        <ErrorBanner error={new Error(`There is no product named "${productName}". Choose one above.`)} />
      )}
      {products.length === 0 && (
        <Notice>
          No products yet. <Link to={paths.setup()}>Create one on the Product setup page.</Link>
        </Notice>
      )}
      {product && <Inspector key={product.name} product={product} inspectionId={params.inspection ?? null} />}
    </div>
  );
}

/** Recent inspections per page of the results table. */
const PAGE_SIZE = 25;

/** What this visit ran: one image, or a batch job of `count` images. */
type Run = { single: Inspection } | { jobId: string; count: number };

function Inspector({ product, inspectionId }: { product: Product; inspectionId: string | null }) {
  const name = product.name;
  const navigate = useNavigate();
  const queryClient = useQueryClient();
  const [run, setRun] = useState<Run | null>(null);
  const show = (ins: Inspection, replace = false) => {
    queryClient.setQueryData(keys.inspection(name, ins.id), ins);
    navigate(paths.inspect(name, ins.id), { replace });
  };

  const inspectOne = useMutation({
    mutationFn: (file: File) => api.inspect(name, file),
    onSuccess: (ins) => {
      setRun({ single: ins });
      show(ins);
    },
  });
  const startBatch = useMutation({
    mutationFn: (files: File[]) => api.startBatch(name, files),
    onSuccess: (job, files) => setRun({ jobId: job.id, count: files.length }),
  });
  const feedback = useMutation({
    mutationFn: ({ id, addToGolden }: { id: string; addToGolden: boolean }) => api.feedback(name, id, addToGolden),
    onSuccess: async (ins) => {
      queryClient.setQueryData(keys.inspection(name, ins.id), ins);
      await queryClient.invalidateQueries({ queryKey: keys.product(name) });
    },
  });

  const batch = run && 'jobId' in run ? run : null;
  const job = useJob(batch?.jobId ?? null).data;
  const batchResults = useBatchResults(name, job, batch?.count ?? 0).data;
  const [cursors, setCursors] = useState<number[]>([]); // the cursor of each older page opened, in order
  const recent = useInspectionPage(name, PAGE_SIZE, cursors.at(-1) ?? null);
  const selected = useInspection(name, inspectionId);

  // A finished batch shows its highest score first.
  const shownBatch = useRef<string | null>(null);
  useEffect(() => {
    if (batch && batchResults && shownBatch.current !== batch.jobId) {
      shownBatch.current = batch.jobId;
      const top = [...batchResults].sort((a, b) => b.score - a.score)[0];
      if (top) show(top);
    }
  }, [batch?.jobId, batchResults]);

  const single = run && 'single' in run ? (selected.data?.id === run.single.id ? selected.data : run.single) : null;
  // a batch lists its own results once they are in; otherwise a linked inspection heads the list
  let items = single ? [single] : batch ? (batchResults ?? []) : (recent.data?.items ?? []);
  if (selected.data && !batch && !items.some((i) => i.id === selected.data.id)) items = [selected.data, ...items];
  items = items.map((i) => (i.id === selected.data?.id ? selected.data : i));
  const caption = single ? 'This inspection' : batch ? `Batch of ${plural(batch.count, 'image')}` : 'Recent inspections';

  const jobFailed =
    job?.state === 'failed'
      ? new Error(`The batch failed: ${job.error ? plainMessage(0, job.error.code, job.error.message) : 'no reason given.'}`)
      : null;
  const progress = inspectOne.isPending
    ? { label: `Inspecting ${inspectOne.variables.name}…`, fraction: null }
    : startBatch.isPending
      ? { label: `Uploading ${plural(startBatch.variables.length, 'image')}…`, fraction: null }
      : batch && job && !batchResults && !jobFailed
        ? {
            label: job.state === 'queued' ? 'Batch waiting to start…' : job.state === 'succeeded' ? 'Loading results…' : `Inspecting ${job.progress.done} of ${job.progress.total || batch.count}…`,
            fraction: jobFraction(job),
          }
        : null;
  const failed = job?.state === 'succeeded' ? batchFailures(job) : [];
  const ready = product.active_version !== null;

  return (
    <>
      {!ready && <NoFingerprint name={name} what="Inspections are judged against a fingerprint: upload photos of good parts and generate one, then drop images here." />}
      <StagedFiles
        disabled={!ready}
        busy={progress !== null}
        onRun={(files) => {
          setRun(null);
          feedback.reset();
          return files.length === 1 ? inspectOne.mutateAsync(files[0]) : startBatch.mutateAsync(files);
        }}
      >
        {progress && <ProgressBar fraction={progress.fraction} label={progress.label} />}
      </StagedFiles>

      <ErrorBanner error={inspectOne.error ?? startBatch.error ?? jobFailed ?? feedback.error ?? recent.error ?? selected.error} />
      {feedback.data && (
        <Notice>
          {feedback.variables.addToGolden
            ? 'Marked as a false alarm and added to the golden samples. Generate a new fingerprint on the Product setup page to use it.'
            : 'Marked as a false alarm.'}
        </Notice>
      )}
      {failed.length > 0 && (
        <div className="banner banner-error" role="alert">
          {plural(failed.length, 'image')} could not be inspected: {failed.map((f) => `${f.filename} (${f.error})`).join('; ')}
        </div>
      )}

      <div className="inspect-layout">
        {selected.data ? (
          <>
            <InspectionViewer
              key={selected.data.id}
              inspection={selected.data}
              golden={product.fingerprint?.version === selected.data.version ? product.fingerprint.golden_scores : null}
              onFalseAlarm={(addToGolden) => feedback.mutate({ id: selected.data.id, addToGolden })}
              feedbackBusy={feedback.isPending}
            />
            <LabelPanel key={`label-${selected.data.id}`} name={name} inspection={selected.data} />
            {selected.data.decision === 'ANOMALOUS' && selected.data.regions.length > 0 && (
              <>
                <RegionExplanations key={`explain-${selected.data.id}`} inspection={selected.data} />
                <SeenBefore key={`seen-${selected.data.id}`} inspection={selected.data} />
              </>
            )}
          </>
        ) : (
          items.length === 0 && !inspectionId && <p className="muted card">No inspections yet for {name}. Drop images above.</p>
        )}
        {items.length > 0 && (
          <section className="card" aria-label="Results">
            <ResultsTable items={items} selectedId={inspectionId} onSelect={(ins) => show(ins)} caption={caption} />
            {!single && !batch && (cursors.length > 0 || recent.data?.next_cursor != null) && (
              <Pager
                page={cursors.length}
                size={PAGE_SIZE}
                shown={recent.data?.items.length ?? 0}
                hasOlder={recent.data?.next_cursor != null}
                busy={recent.isPlaceholderData}
                onNewer={() => setCursors((c) => c.slice(0, -1))}
                onOlder={() => setCursors((c) => [...c, recent.data!.next_cursor!])}
              />
            )}
          </section>
        )}
      </div>
    </>
  );
}
