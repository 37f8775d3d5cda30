// Names for what the API answers, as the generated client (schema.d.ts, `make console-types`) types
// it. Nothing here is written by hand: each name is the answer of one call.
import type { api } from './client';

type Answer<F extends (...args: never[]) => Promise<unknown>> = Awaited<ReturnType<F>>;

export type Product = Answer<typeof api.getProduct>;
export type Version = Answer<typeof api.activateVersion>;
export type Job = Answer<typeof api.getJob>;
export type Golden = Answer<typeof api.listGolden>['items'][number];
export type Inspection = Answer<typeof api.getInspection>;
export type Stats = Answer<typeof api.stats>;
export type Decision = Inspection['decision'];
export type Region = Inspection['regions'][number];
export type GoldenPatch = Answer<typeof api.explain>['regions'][number]['golden'][number];
export type SimilarDefect = Answer<typeof api.similar>['items'][number];
export type Line = Answer<typeof api.lines>['items'][number];
export type Source = Line['sources'][number];
export type MqttSink = Answer<typeof api.getMqtt>;
export type Label = NonNullable<Inspection['label']>;
export type Tuning = Answer<typeof api.tuning>;
export type Activation = Answer<typeof api.activations>['items'][number];
