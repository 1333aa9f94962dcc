import { formatMs } from './model.js'

/**
 * The latency chart's geometry (pure; rendered as inline SVG by views.ts): each committed epoch's
 * latency (epoch end → commit) against its epoch number, on a 0-based axis rounded up to a nice
 * step, with the median drawn across.
 */

export interface ChartPoint { epoch: number, latencyMs: number }

export interface ChartModel {
  width: number
  height: number
  /** The plot area. */
  plot: { left: number, top: number, right: number, bottom: number }
  /** SVG path data of the line through the points ('' when there are none). */
  path: string
  points: Array<ChartPoint & { x: number, y: number }>
  yTicks: Array<{ y: number, label: string }>
  xTicks: Array<{ x: number, label: string }>
  /** Median latency and its y, when there are points. */
  median?: { ms: number, y: number }
}

/** 1, 2 or 5 times a power of ten (at least 1 ms): the smallest such step that covers `max` in `count` steps. */
export function niceStep (max: number, count: number): number {
  const raw = Math.max(max, 1) / count
  const power = 10 ** Math.floor(Math.log10(raw))
  const step = [1, 2, 5, 10].map((m) => m * power).find((s) => s >= raw) ?? 10 * power
  return Math.max(1, step)
}

export function latencyChart (series: readonly ChartPoint[], size: { width: number, height: number }): ChartModel {
  const plot = { left: 56, top: 12, right: size.width - 12, bottom: size.height - 28 }
  const sorted = [...series].sort((a, b) => a.epoch - b.epoch)
  const step = niceStep(Math.max(0, ...sorted.map((p) => p.latencyMs)), 4)
  const top = step * Math.max(1, Math.ceil(Math.max(0, ...sorted.map((p) => p.latencyMs)) / step))
  const first = sorted[0]?.epoch ?? 0
  const last = sorted.at(-1)?.epoch ?? 0
  const span = Math.max(1, last - first)
  const x = (epoch: number): number => sorted.length === 1 ? (plot.left + plot.right) / 2 : plot.left + ((epoch - first) / span) * (plot.right - plot.left)
  const y = (ms: number): number => plot.bottom - (ms / top) * (plot.bottom - plot.top)
  const points = sorted.map((p) => ({ ...p, x: round(x(p.epoch)), y: round(y(p.latencyMs)) }))
  const yTicks = Array.from({ length: Math.round(top / step) + 1 }, (_, i) => ({ y: round(y(i * step)), label: formatMs(i * step) }))
  const xEvery = Math.max(1, Math.ceil((last - first + 1) / 8))
  const xTicks = sorted.length === 0 ? [] : Array.from({ length: Math.floor((last - first) / xEvery) + 1 }, (_, i) => first + i * xEvery).map((e) => ({ x: round(x(e)), label: String(e) }))
  const byMs = sorted.map((p) => p.latencyMs).sort((a, b) => a - b)
  const mid = Math.floor(byMs.length / 2)
  const medianMs = byMs.length === 0 ? undefined : byMs.length % 2 === 1 ? byMs[mid] as number : ((byMs[mid - 1] as number) + (byMs[mid] as number)) / 2
  return {
    width: size.width,
    height: size.height,
    plot,
    path: points.map((p, i) => `${i === 0 ? 'M' : 'L'}${p.x},${p.y}`).join(' '),
    points,
    yTicks,
    xTicks,
    ...(medianMs != null ? { median: { ms: medianMs, y: round(y(medianMs)) } } : {})
  }
}

const round = (v: number): number => Math.round(v * 10) / 10
