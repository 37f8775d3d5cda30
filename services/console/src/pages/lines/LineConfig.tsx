import { useMutation, useQueryClient } from '@tanstack/react-query';
import { useState } from 'react';
import { api, type NewMqttSink, type NewSource } from '../../api/client';
import { keys, useMqttSink } from '../../api/queries';
import type { MqttSink } from '../../api/types';
import { ConfirmButton } from '../../components/ConfirmButton';
import { ErrorBanner } from '../../components/ErrorBanner';
import { Loading } from '../../components/Loading';

/** One product's line set up: a source added, and its MQTT sink set or removed (the rules are the server's, docs/line.md). */
export function LineConfig({ name, id }: { name: string; id: string }) {
  return (
    <div className="line-config" id={id}>
      <AddSource name={name} />
      <MqttSinkPanel name={name} />
    </div>
  );
}

type Kind = NewSource['kind'];

const EXAMPLE: Record<Kind, string> = { folder: '/line/cam1', stream: 'rtsp://cam1/stream' };
const HINT: Record<Kind, string> = {
  folder: 'An absolute path below one of the server’s source roots (GOLDENSHOT_SERVER_SOURCE_ROOTS).',
  stream: 'rtsp:// or http(s):// (MJPEG) camera, a video file below a source root, or a device index such as 0.',
};
// the server's own default; a folder sends it since the server checks fps for every kind
const DEFAULT_FPS = 2;

function AddSource({ name }: { name: string }) {
  const queryClient = useQueryClient();
  const [kind, setKind] = useState<Kind>('folder');
  const [target, setTarget] = useState('');
  const [fps, setFps] = useState(DEFAULT_FPS);
  const [sort, setSort] = useState(false);
  const [triggered, setTriggered] = useState(false);
  const stream = kind === 'stream';
  const add = useMutation({
    mutationFn: () =>
      api.addSource(name, { kind, target: target.trim(), fps: stream ? fps : DEFAULT_FPS, sort: !stream && sort, triggered: stream && triggered }),
    onSuccess: () => {
      setTarget('');
      return queryClient.invalidateQueries({ queryKey: keys.lines });
    },
  });
  return (
    <form
      aria-label={`Add a source to ${name}`}
      onSubmit={(e) => {
        e.preventDefault();
        add.mutate();
      }}
    >
      <h3>Add a source</h3>
      <div className="row wrap">
        <label className="inline-field">
          Kind
          <select value={kind} onChange={(e) => setKind(e.target.value as Kind)}>
            <option value="folder">folder</option>
            <option value="stream">stream</option>
          </select>
        </label>
        <label className="inline-field">
          Target
          <input className="input-wide" value={target} onChange={(e) => setTarget(e.target.value)} placeholder={EXAMPLE[kind]} required maxLength={2000} />
        </label>
        {stream ? (
          <>
            <label className="inline-field">
              Frames per second
              <input type="number" className="input-short" min={0.1} step="any" value={fps} onChange={(e) => setFps(Number(e.target.value))} required />
            </label>
            <label className="check">
              <input type="checkbox" checked={triggered} onChange={(e) => setTriggered(e.target.checked)} />
              Triggered (inspect the frame after each trigger)
            </label>
          </>
        ) : (
          <label className="check">
            <input type="checkbox" checked={sort} onChange={(e) => setSort(e.target.checked)} />
            Sort handled files into ok/, anomalous/, failed/
          </label>
        )}
        <button type="submit" className="btn btn-primary" disabled={add.isPending || target.trim() === ''}>
          {add.isPending ? 'Adding…' : 'Add source'}
        </button>
      </div>
      <p className="muted small">{HINT[kind]}</p>
      <ErrorBanner error={add.error} onDismiss={add.reset} />
    </form>
  );
}

const EVENTS: Record<NewMqttSink['events'], string> = { anomalous: 'ANOMALOUS results', all: 'every result' };

function MqttSinkPanel({ name }: { name: string }) {
  const sink = useMqttSink(name);
  const queryClient = useQueryClient();
  const show = (s: MqttSink | null) => queryClient.setQueryData(keys.mqtt(name), s);
  const remove = useMutation({ mutationFn: () => api.deleteMqtt(name), onSuccess: () => show(null) });
  if (sink.data === undefined) return <Loading error={sink.error} label="Loading the MQTT sink…" />;
  const s = sink.data;
  return (
    <section aria-label={`MQTT sink of ${name}`}>
      <h3>MQTT sink</h3>
      {s ? (
        <div data-testid="mqtt-sink">
          <p>
            Publishes {EVENTS[s.events]} to <code>{s.topic}</code>.{' '}
            <span className={`state state-${s.connected ? 'fine' : 'trouble'}`}>{s.connected ? 'connected' : 'not connected'}</span>
            <span className="muted"> · {s.pending} pending</span>
          </p>
          {s.last_error && <div className="source-error">{s.last_error}</div>}
          <div className="row-actions">
            <ConfirmButton label="Remove sink" title={`Remove the MQTT sink of ${name}?`} disabled={remove.isPending} onConfirm={() => remove.mutate()}>
              Results of {name} will no longer be published, nor the {s.pending} still pending.
            </ConfirmButton>
          </div>
        </div>
      ) : (
        <p className="muted">No MQTT sink: results of {name} are not published.</p>
      )}
      <ErrorBanner error={remove.error} />
      <MqttForm name={name} sink={s} onSaved={show} />
    </section>
  );
}

/** Starts from the sink shown (mounted once it has loaded). */
function MqttForm({ name, sink, onSaved }: { name: string; sink: MqttSink | null; onSaved: (s: MqttSink) => void }) {
  const [topic, setTopic] = useState(sink?.topic ?? '');
  const [events, setEvents] = useState<NewMqttSink['events']>(sink?.events ?? 'anomalous');
  const save = useMutation({ mutationFn: () => api.setMqtt(name, { topic, events }), onSuccess: onSaved });
  return (
    <form
      aria-label={`Set the MQTT sink of ${name}`}
      onSubmit={(e) => {
        e.preventDefault();
        save.mutate();
      }}
    >
      <div className="row wrap">
        <label className="inline-field">
          Topic
          <input className="input-wide" value={topic} onChange={(e) => setTopic(e.target.value)} placeholder="plant/{tenant}/{product}/{decision}" required maxLength={256} />
        </label>
        <label className="inline-field">
          Publish
          <select value={events} onChange={(e) => setEvents(e.target.value as NewMqttSink['events'])}>
            {Object.entries(EVENTS).map(([k, text]) => (
              <option key={k} value={k}>
                {text}
              </option>
            ))}
          </select>
        </label>
        <button type="submit" className="btn btn-primary" disabled={save.isPending || topic === ''}>
          {sink ? 'Update sink' : 'Set sink'}
        </button>
      </div>
      <p className="muted small">{'{tenant}'}, {'{product}'} and {'{decision}'} are filled in per result; + and # are refused.</p>
      <ErrorBanner error={save.error} onDismiss={save.reset} />
    </form>
  );
}
