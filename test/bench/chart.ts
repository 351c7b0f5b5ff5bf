/**
 * The benchmark's SVG chart, drawn here with no dependencies: latency CDFs
 * (log-scale x) for server and floor, and server-vs-floor bars for the rates.
 * Pure: data in, SVG text out.
 */
import { cdf } from "./stats.ts";

export interface LatencySeries {
  label: string;
  color: string;
  dashed?: boolean;
  samples: readonly number[];
}

export interface LatencyPanel {
  title: string;
  series: LatencySeries[];
}

export interface Bar {
  label: string;
  unit: string;
  server: number;
  floor: number;
}

export interface ChartData {
  title: string;
  subtitle: string;
  latency: LatencyPanel[];
  bars: Bar[];
}

export const SERVER_COLOR = "#d9480f";
export const FLOOR_COLOR = "#1c7ed6";

export function escapeXml(text: string): string {
  return text.replace(/&/g, "&amp;").replace(/</g, "&lt;").replace(/>/g, "&gt;").replace(/"/g, "&quot;");
}

const num = (v: number) => (Math.round(v * 10) / 10).toString();

/** 1-2-5 ticks covering [lo, hi]. */
export function logTicks(lo: number, hi: number): number[] {
  const ticks: number[] = [];
  if (!(lo > 0) || !(hi >= lo)) return ticks;
  for (let e = Math.floor(Math.log10(lo)); e <= Math.ceil(Math.log10(hi)) && ticks.length < 40; e++) {
    for (const m of [1, 2, 5]) {
      const t = m * 10 ** e;
      if (t >= lo * 0.999 && t <= hi * 1.001) ticks.push(Number(t.toPrecision(3)));
    }
  }
  return ticks;
}

function text(x: number, y: number, s: string, attrs = ""): string {
  return `<text x="${num(x)}" y="${num(y)}" ${attrs}>${escapeXml(s)}</text>`;
}

function latencyPanel(panel: LatencyPanel, x0: number, y0: number, w: number, h: number): string {
  const out: string[] = [];
  const plotX = x0 + 50;
  const plotY = y0 + 28;
  const plotW = w - 70;
  const plotH = h - 100;
  out.push(text(x0 + 10, y0 + 16, panel.title, 'font-weight="600" font-size="14"'));
  const all = panel.series.flatMap((s) => s.samples).filter((v) => v > 0 && Number.isFinite(v));
  let lo = Infinity;
  let hi = -Infinity;
  for (const v of all) {
    if (v < lo) lo = v;
    if (v > hi) hi = v;
  }
  if (all.length === 0) {
    out.push(text(plotX + plotW / 2, plotY + plotH / 2, "no data", 'text-anchor="middle" fill="#868e96"'));
    return out.join("\n");
  }
  lo = 10 ** Math.floor(Math.log10(Math.max(lo, 0.01)));
  hi = 10 ** Math.ceil(Math.log10(Math.max(hi, lo * 10)));
  const lx = (v: number) => plotX + ((Math.log10(Math.max(v, lo)) - Math.log10(lo)) / (Math.log10(hi) - Math.log10(lo))) * plotW;
  const ly = (f: number) => plotY + plotH - f * plotH;
  out.push(`<rect x="${num(plotX)}" y="${num(plotY)}" width="${num(plotW)}" height="${num(plotH)}" fill="none" stroke="#ced4da"/>`);
  for (const t of logTicks(lo, hi)) {
    const x = lx(t);
    out.push(`<line x1="${num(x)}" y1="${num(plotY)}" x2="${num(x)}" y2="${num(plotY + plotH)}" stroke="#f1f3f5"/>`);
    out.push(text(x, plotY + plotH + 14, String(t), 'text-anchor="middle" font-size="10" fill="#495057"'));
  }
  for (const f of [0, 0.25, 0.5, 0.75, 0.9, 1]) {
    const y = ly(f);
    out.push(
      `<line x1="${num(plotX)}" y1="${num(y)}" x2="${num(plotX + plotW)}" y2="${num(y)}" stroke="${f === 0.5 || f === 0.9 ? "#dee2e6" : "#f1f3f5"}"/>`,
    );
    out.push(text(plotX - 6, y + 3, `${Math.round(f * 100)}%`, 'text-anchor="end" font-size="10" fill="#495057"'));
  }
  // p99 sits 1% below the top: a marked line, labelled inside the plot so it does not collide with 100%.
  out.push(
    `<line x1="${num(plotX)}" y1="${num(ly(0.99))}" x2="${num(plotX + plotW)}" y2="${num(ly(0.99))}" stroke="#adb5bd" stroke-dasharray="2,3"/>`,
  );
  out.push(text(plotX + 4, ly(0.99) + 11, "p99", 'font-size="9" fill="#868e96"'));
  out.push(text(plotX + plotW / 2, plotY + plotH + 30, "latency (ms, log scale)", 'text-anchor="middle" font-size="11" fill="#495057"'));
  panel.series.forEach((s, i) => {
    const pts = cdf(
      s.samples.filter((v) => Number.isFinite(v)),
      300,
    );
    if (pts.length > 0) {
      // A step function: horizontal to the next value, then up.
      let d = `M${num(lx(pts[0]![0]))},${num(ly(0))}`;
      let prevY = 0;
      for (const [v, f] of pts) {
        d += ` L${num(lx(v))},${num(ly(prevY))} L${num(lx(v))},${num(ly(f))}`;
        prevY = f;
      }
      out.push(`<path d="${d}" fill="none" stroke="${s.color}" stroke-width="1.8"${s.dashed ? ' stroke-dasharray="5,3"' : ""}/>`);
    }
    const ly0 = plotY + plotH + 44 + Math.floor(i / 2) * 14;
    const lx0 = plotX + (i % 2) * (plotW / 2);
    out.push(
      `<line x1="${num(lx0)}" y1="${num(ly0 - 4)}" x2="${num(lx0 + 22)}" y2="${num(ly0 - 4)}" stroke="${s.color}" stroke-width="2"${s.dashed ? ' stroke-dasharray="5,3"' : ""}/>`,
    );
    out.push(text(lx0 + 28, ly0, `${s.label} (n=${s.samples.length})`, 'font-size="11"'));
  });
  return out.join("\n");
}

function barsPanel(bars: readonly Bar[], x0: number, y0: number, w: number): { svg: string; height: number } {
  const out: string[] = [text(x0 + 10, y0 + 16, "throughput: server vs floor (medians)", 'font-weight="600" font-size="14"')];
  const labelW = 190;
  const barMax = w - labelW - 150;
  let y = y0 + 32;
  for (const b of bars) {
    const max = Math.max(...[b.server, b.floor].filter(Number.isFinite), 1e-9);
    out.push(text(x0 + 10, y + 20, `${b.label}`, 'font-size="12"'));
    const ratio = b.floor > 0 && Number.isFinite(b.server) ? `${(b.server / b.floor).toFixed(2)}× floor` : "";
    out.push(text(x0 + 10, y + 34, ratio, 'font-size="11" fill="#868e96"'));
    for (const [i, [who, v, color]] of (
      [
        ["server", b.server, SERVER_COLOR],
        ["floor", b.floor, FLOOR_COLOR],
      ] as const
    ).entries()) {
      const by = y + i * 20 + 4;
      const bw = Number.isFinite(v) ? Math.max(1, (v / max) * barMax) : 0;
      out.push(`<rect x="${num(x0 + labelW)}" y="${num(by)}" width="${num(bw)}" height="16" fill="${color}" opacity="0.85"/>`);
      const shown = Number.isFinite(v) ? `${Math.round(v).toLocaleString("en-US")} ${b.unit}` : "–";
      out.push(text(x0 + labelW + bw + 6, by + 12, `${who} ${shown}`, 'font-size="11"'));
    }
    y += 52;
  }
  return { svg: out.join("\n"), height: y - y0 + 8 };
}

export function renderChart(data: ChartData): string {
  const width = 960;
  const panelW = width / 2;
  const panelH = 300;
  const header = 56;
  const rows = Math.ceil(data.latency.length / 2);
  const barsY = header + rows * panelH;
  const bars = barsPanel(data.bars, 0, barsY, width);
  const height = barsY + bars.height;
  const parts = [
    `<svg xmlns="http://www.w3.org/2000/svg" width="${width}" height="${num(height)}" viewBox="0 0 ${width} ${num(height)}" font-family="system-ui, -apple-system, Segoe UI, sans-serif">`,
    `<rect width="100%" height="100%" fill="#ffffff"/>`,
    text(12, 24, data.title, 'font-size="18" font-weight="700"'),
    text(12, 44, data.subtitle, 'font-size="12" fill="#495057"'),
    ...data.latency.map((p, i) => latencyPanel(p, (i % 2) * panelW, header + Math.floor(i / 2) * panelH, panelW, panelH)),
    bars.svg,
    "</svg>",
  ];
  return `${parts.join("\n")}\n`;
}
