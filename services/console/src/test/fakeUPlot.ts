// jsdom has no canvas: tests get a uPlot that keeps what it was given, maps x linearly over 600 px and
// runs the plugins' hooks (init and draw on creation, setCursor through moveCursor).
import type uPlot from 'uplot';

export class FakePlot {
  static paths = { bars: () => () => null };
  static last: FakePlot;
  readonly over = document.createElement('div');
  cursor: { idx: number | null; left: number; top: number } = { idx: null, left: -1, top: -1 };

  constructor(
    readonly opts: uPlot.Options,
    readonly data: uPlot.AlignedData,
    el: HTMLElement,
  ) {
    el.appendChild(this.over);
    FakePlot.last = this;
    this.hook('init');
    this.hook('draw');
  }

  valToPos(v: number): number {
    const [lo, hi] = this.opts.scales!.x.range as [number, number];
    return ((v - lo) / (hi - lo)) * 600;
  }

  moveCursor(idx: number | null, left = -1, top = -1) {
    this.cursor = { idx, left, top };
    this.hook('setCursor');
  }

  private hook(name: 'init' | 'draw' | 'setCursor') {
    for (const p of this.opts.plugins ?? []) (p.hooks[name] as ((u: unknown) => void) | undefined)?.(this);
  }

  setSize() {}
  destroy() {
    this.over.remove();
  }
}
