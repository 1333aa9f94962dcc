import type { EpochSummaryJson, Snapshot } from './api.js'
import { latencyChart } from './chart.js'
import { h, mount, short, svg, timeOf } from './dom.js'
import { formatMs, latencySeries, memberRows, phases } from './model.js'

/** The page's sections, each re-rendered from a refresh (src/dashboard/static/index.html holds their places). */

export function renderNow (s: Snapshot): void {
  const params = s.now.parameters
  mount('now',
    h('div', { class: 'big' }, h('span', { class: 'label' }, 'epoch '), h('span', { id: 'current-epoch' }, s.now.epoch)),
    h('ul', { class: 'phases' }, ...phases(s, Date.now()).map((p) => h('li', { 'data-epoch': p.epoch },
      h('span', { class: `phase phase-${p.label}` }, `${p.epoch} · ${p.label}`),
      h('span', { class: 'detail' }, p.detail),
      h('progress', { max: 1, value: p.progress })))),
    h('dl', { class: 'facts' },
      h('dt', {}, 'environment'), h('dd', {}, `${s.now.environment.name}, ${formatMs(s.now.epochMs)} epochs`),
      h('dt', {}, 'committee'), h('dd', {}, `${s.now.committee.size} members · ${short(s.now.committee.membershipId, 12, 0)}`),
      h('dt', {}, 'rewards'), h('dd', {}, `${params.aggregation} of ≥ ${params.rewardsThreshold} reports, ${params.mixnodes} mixnodes`),
      h('dt', {}, 'coordinator'), h('dd', {}, `${s.health.status}${s.health.build != null ? ` · v${s.health.build.version}, Node ${s.health.build.node}` : ''}${s.membership.locked ? ' · committee locked by the operator' : ''}`)))
}

export function renderMembers (s: Snapshot): void {
  const m = s.membership
  const rows = memberRows(s)
  mount('committee-summary', `${m.committee.members.length} members in epoch ${m.epoch}; ${m.queue.length} queued (${m.rules.admission} admission, at most ${m.rules.maxQueue}); committee size ${m.rules.minCommittee}–${m.rules.maxCommittee}; dropped after ${m.rules.dropAfterMissed} missed epochs, banned after ${m.rules.banAfterDrops} drops.`)
  mount('members', h('table', {},
    h('thead', {}, h('tr', {}, ...['Node', 'PeerId', 'Status', 'Missed', 'Drops', 'Last win'].map((t) => h('th', {}, t)))),
    h('tbody', {}, ...rows.map((r) => h('tr', { 'data-member': r.name, 'data-state': r.state },
      h('td', {}, r.name),
      h('td', { class: 'mono', title: r.peerId }, short(r.peerId)),
      h('td', {}, h('span', { class: `badge state-${r.state}` }, r.state), ' ', h('span', { class: 'detail' }, r.detail),
        r.evidenceHash != null ? h('a', { href: `/contract/evidence/${r.evidenceHash}`, class: 'evidence' }, ' evidence') : null),
      h('td', { class: 'num' }, r.missed),
      h('td', { class: 'num' }, r.drops),
      h('td', { class: 'num' }, r.lastWin ?? '–'))))))
}

function chunksCell (e: EpochSummaryJson): string {
  if (e.chunks == null) return '–'
  return e.status === 'committed' ? String(e.chunks.total) : `${e.chunks.contributed}/${e.chunks.total} in, ${e.chunks.verified} verified`
}

/** The recent epochs, each committed one with its Verify button; `selected` is the epoch verified last. */
export function renderEpochs (s: Snapshot, onVerify: (epoch: number) => void, selected?: number): void {
  const list = s.epochs.epochs.slice(0, 20)
  mount('epochs', h('table', {},
    h('thead', {}, h('tr', {}, ...['Epoch', 'Status', 'Winner', 'Chunks', 'Reports', 'Signatures', 'Latency', 'Committed', ''].map((t) => h('th', {}, t)))),
    h('tbody', {}, ...list.map((e) => {
      const verify = h('button', { class: 'verify', 'data-epoch': e.epoch, type: 'button' }, 'Verify')
      verify.addEventListener('click', () => { onVerify(e.epoch) })
      return h('tr', { 'data-epoch': e.epoch, 'data-status': e.status, class: e.epoch === selected ? 'selected' : undefined },
        h('td', { class: 'num' }, e.epoch),
        h('td', {}, h('span', { class: `badge status-${e.status}`, title: e.reason ?? '' }, e.status), e.committeeChange != null ? h('span', { class: 'change', title: e.committeeChange.decisions.join(', ') }, ` ⇄ from ${e.committeeChange.effectiveEpoch}`) : null),
        h('td', {}, e.winner ?? (e.reason != null ? h('span', { class: 'detail reason', title: e.reason }, e.reason) : '–')),
        h('td', {}, chunksCell(e)),
        h('td', { class: 'num' }, e.reports ?? '–'),
        h('td', { class: 'num' }, e.signatures ?? '–'),
        h('td', { class: 'num' }, e.latencyMs != null ? formatMs(e.latencyMs) : '–'),
        h('td', {}, e.acceptedAt != null ? timeOf(e.acceptedAt) : '–'),
        h('td', {}, e.status === 'committed' ? verify : null))
    }))))
}

export function renderChart (s: Snapshot): void {
  const series = latencySeries(s.epochs.epochs)
  const c = latencyChart(series, { width: 640, height: 220 })
  if (series.length === 0) {
    mount('chart', h('p', { class: 'detail' }, 'no committed epoch yet'))
    return
  }
  const { left, right, top, bottom } = c.plot
  mount('chart', svg('svg', { viewBox: `0 0 ${c.width} ${c.height}`, class: 'chart', role: 'img', 'aria-label': 'commit latency per epoch' },
    ...c.yTicks.map((t) => svg('g', { class: 'tick' },
      svg('line', { x1: left, x2: right, y1: t.y, y2: t.y }),
      svg('text', { x: left - 6, y: t.y + 4, 'text-anchor': 'end' }, t.label))),
    ...c.xTicks.map((t) => svg('text', { class: 'xtick', x: t.x, y: bottom + 18, 'text-anchor': 'middle' }, t.label)),
    svg('line', { class: 'axis', x1: left, x2: left, y1: top, y2: bottom }),
    c.median != null ? svg('line', { class: 'median', x1: left, x2: right, y1: c.median.y, y2: c.median.y }) : null,
    c.median != null ? svg('text', { class: 'median-label', x: right, y: c.median.y - 4, 'text-anchor': 'end' }, `median ${formatMs(c.median.ms)}`) : null,
    svg('path', { class: 'line', d: c.path }),
    ...c.points.map((p) => svg('circle', { cx: p.x, cy: p.y, r: 3, class: 'dot' }, svg('title', {}, `epoch ${p.epoch}: ${formatMs(p.latencyMs)}`)))))
}

export function renderEvents (s: Snapshot): void {
  const m = s.membership
  const changes = s.epochs.epochs.filter((e) => e.committeeChange != null)
  mount('events',
    h('h3', {}, `Bans (${m.bans.length})`),
    m.bans.length === 0 ? h('p', { class: 'detail' }, 'none') : h('ul', { class: 'events' }, ...m.bans.map((b) => h('li', { 'data-ban': b.member.name },
      h('strong', {}, b.member.name), ` banned at epoch ${b.epoch} by ${b.by}: ${b.reason}`,
      b.evidenceHash != null ? h('a', { href: `/contract/evidence/${b.evidenceHash}`, class: 'mono evidence' }, ` evidence ${short(b.evidenceHash, 12, 0)}`) : null))),
    h('h3', {}, `Drops (${m.drops.length})`),
    m.drops.length === 0 ? h('p', { class: 'detail' }, 'none') : h('ul', { class: 'events' }, ...m.drops.map((d) => h('li', { 'data-drop': d.member.name },
      h('strong', {}, d.member.name), ` dropped ${d.count} time${d.count === 1 ? '' : 's'}, last at epoch ${d.epoch}: ${d.reason}`))),
    h('h3', {}, 'Committee changes'),
    changes.length + m.removals.length === 0 ? h('p', { class: 'detail' }, 'none recently') : h('ul', { class: 'events' },
      ...m.removals.map((r) => h('li', {}, h('strong', {}, r.member.name), ` ${r.kind} at the next change: ${r.reason}`)),
      ...changes.map((e) => {
        const from = e.committeeChange?.effectiveEpoch ?? 0
        return h('li', {}, `epoch ${e.epoch} decided: ${e.committeeChange?.decisions.join(', ') ?? ''}, ${from > m.epoch ? 'in force from' : 'in force since'} epoch ${from}`)
      })))
}
