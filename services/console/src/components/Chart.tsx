import { useEffect, useRef } from 'react';
import uPlot from 'uplot';
import 'uplot/dist/uPlot.min.css';

const HEIGHT = 240;

export type ChartOptions = Omit<uPlot.Options, 'width' | 'height'>;

/** A uPlot chart as wide as its box; `label` says in words what it shows. */
export function Chart({ options, data, label, testId }: { options: ChartOptions; data: uPlot.AlignedData; label: string; testId: string }) {
  const box = useRef<HTMLDivElement>(null);
  useEffect(() => {
    const el = box.current!;
    const plot = new uPlot({ ...options, width: el.clientWidth || 640, height: HEIGHT }, data, el);
    const resized = new ResizeObserver(() => plot.setSize({ width: el.clientWidth, height: HEIGHT }));
    resized.observe(el);
    return () => {
      resized.disconnect();
      plot.destroy();
    };
  }, [options, data]);
  return <div ref={box} className="chart" role="img" aria-label={label} data-testid={testId} />;
}

/** A box by the cursor with `text(index)` of the point under it. */
export function tooltip(text: (idx: number) => string): uPlot.Plugin {
  let tip: HTMLDivElement;
  return {
    hooks: {
      init: (u) => {
        tip = document.createElement('div');
        tip.className = 'chart-tooltip';
        tip.hidden = true;
        u.over.appendChild(tip);
      },
      setCursor: (u) => {
        const { idx, left, top } = u.cursor;
        tip.hidden = idx == null || left == null || left < 0;
        if (tip.hidden) return;
        tip.textContent = text(idx!);
        tip.style.left = `${left}px`;
        tip.style.top = `${top}px`;
      },
    },
  };
}

/** A dashed vertical line with its label at x = `value` (a DOM element over the plot, so it can be read). */
export function markerLine(value: number, text: string): uPlot.Plugin {
  let line: HTMLDivElement;
  return {
    hooks: {
      init: (u) => {
        line = document.createElement('div');
        line.className = 'chart-marker';
        line.dataset.testid = 'threshold-line';
        const label = document.createElement('span');
        label.textContent = text;
        line.appendChild(label);
        u.over.appendChild(line);
      },
      draw: (u) => {
        const x = u.valToPos(value, 'x');
        line.style.left = `${x}px`;
        line.classList.toggle('chart-marker-end', x > u.over.clientWidth * 0.75);
      },
    },
  };
}
