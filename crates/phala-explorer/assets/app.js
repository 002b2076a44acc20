// The explorer's page: a hash router over the explorer's JSON API, live updates from its
// event stream, and small SVG charts. Everything shown comes from the chain through the
// API and is escaped before it reaches the page.
"use strict";

const app = document.getElementById("app");
const nodeLine = document.getElementById("node");
let nodeUp = null;
let finalized = null;
let route = null;
let refreshing = false;
let lastRefresh = 0;

const esc = (v) => String(v ?? "").replace(/[&<>"']/g, (c) =>
  ({ "&": "&amp;", "<": "&lt;", ">": "&gt;", '"': "&quot;", "'": "&#39;" })[c]);
const amount = (a) => (a ? `<span title="${esc(a.exact || a.text)}">${esc(a.text)}</span>` : "–");
// Large chart values as people read them: 1.9M, 12.5k.
const compact = (v) => Math.abs(v) >= 1e6 ? `${(v / 1e6).toFixed(1)}M` : Math.abs(v) >= 1e4 ? `${(v / 1e3).toFixed(1)}k` : String(Math.round(v * 100) / 100);
const acct = (a) => (a ? `<a class="mono" href="#/account/${esc(a)}">${esc(a)}</a>` : "–");
const acctShort = (a) => (a ? `<a class="mono" href="#/account/${esc(a)}" title="${esc(a)}">${esc(short(a))}</a>` : "–");
const block = (n) => (n === null || n === undefined ? "–" : `<a href="#/block/${esc(n)}">#${esc(n)}</a>`);
const short = (h) => (h && h.length > 20 ? `${h.slice(0, 10)}…${h.slice(-8)}` : h || "");
const table = (heads, rows, empty) => rows.length
  ? `<div class="scroll"><table><thead><tr>${heads.map((h) => `<th scope="col">${esc(h)}</th>`).join("")}</tr></thead><tbody>${rows.join("")}</tbody></table></div>`
  : `<p class="muted">${esc(empty)}</p>`;
const card = (k, v, id) => `<div class="card"${id ? ` id="${id}"` : ""}><div class="k">${esc(k)}</div><div class="v">${v}</div></div>`;
const kv = (pairs) => `<dl class="kv">${pairs.map(([k, v]) => `<dt>${esc(k)}</dt><dd>${v}</dd>`).join("")}</dl>`;
const act = (a) => a ? `<div class="act"><div><strong>To act:</strong> <code>${esc(a.cli)}</code></div><div>polkadot.js: <code>${esc(a.polkadotJs)}</code></div></div>` : "";
const iso = (ms) => {
  const d = new Date(ms);
  return isNaN(d.getTime()) ? String(ms) : d.toISOString();
};
const ago = (ms) => {
  if (!ms) return "–";
  const s = Math.max(0, Math.round((Date.now() - ms) / 1000));
  return s < 90 ? `${s} s ago` : s < 5400 ? `${Math.round(s / 60)} min ago` : iso(ms).replace("T", " ").slice(0, 19) + " UTC";
};
const secs = (ms) => (ms === null || ms === undefined ? "–" : `${(ms / 1000).toFixed(ms < 10000 ? 2 : 0)} s`);
const pct = (x) => (x === null || x === undefined ? "–" : `${Number(x).toFixed(2)}%`);

class HttpError extends Error {
  constructor(status, message) { super(message); this.status = status; }
}

// The explorer answers its own page's misses ("not found", "node unreachable") with 200
// and the real status in X-Status: they are states the page shows, not errors for the
// console.
async function api(path) {
  const res = await fetch(path, { headers: { accept: "application/json", "x-explorer-page": "1" } });
  const status = Number(res.headers.get("x-status") || res.status);
  let body = null;
  try { body = await res.json(); } catch (_) { /* not JSON */ }
  if (status >= 300) throw new HttpError(status, (body && body.error) || `the explorer answered ${status}`);
  return body;
}

// A line chart: `series` is [{name, color, points: [[x, y], …]}].
function chart(title, series, opts = {}) {
  const W = 640, H = 200, L = 64, R = 10, T = 12, B = 24;
  const all = series.flatMap((s) => s.points).filter((p) => p[1] !== null && p[1] !== undefined && !isNaN(p[1]));
  if (all.length < 2) return `<p class="muted">${esc(title)}: not enough data yet.</p>`;
  const xs = all.map((p) => p[0]), ys = all.map((p) => p[1]);
  const x0 = Math.min(...xs), x1 = Math.max(...xs);
  let y0 = opts.y0 ?? Math.min(...ys), y1 = opts.y1 ?? Math.max(...ys);
  if (y1 === y0) {
    const pad = Math.abs(y0) / 100 || 1;
    if (opts.y0 === undefined) y0 -= pad;
    y1 += pad;
  }
  const sx = (x) => L + ((x - x0) / (x1 - x0 || 1)) * (W - L - R);
  const sy = (y) => H - B - ((y - y0) / (y1 - y0)) * (H - T - B);
  const fmt = opts.fmt || compact;
  const lines = series.map((s) => {
    const pts = s.points.filter((p) => p[1] !== null && p[1] !== undefined && !isNaN(p[1]));
    const d = pts.map((p, i) => `${i ? "L" : "M"}${sx(p[0]).toFixed(1)},${sy(p[1]).toFixed(1)}`).join("");
    return `<path d="${d}" fill="none" stroke="${s.color}" stroke-width="2"/>`;
  }).join("");
  const marks = (opts.marks || []).map((m) =>
    `<circle cx="${sx(m[0]).toFixed(1)}" cy="${sy(m[1]).toFixed(1)}" r="5" fill="${m[2]}"/>`).join("");
  const legend = series.map((s) => `<span><svg class="sw" viewBox="0 0 12 4" aria-hidden="true"><rect width="12" height="4" fill="${s.color}"/></svg>${esc(s.name)}</span>`).join("");
  return `<figure class="chart"><figcaption class="legend"><strong>${esc(title)}</strong> ${legend}</figcaption>
<svg class="plot" viewBox="0 0 ${W} ${H}" role="img" aria-label="${esc(title)}">
<line x1="${L}" y1="${H - B}" x2="${W - R}" y2="${H - B}" stroke="#ccc"/><line x1="${L}" y1="${T}" x2="${L}" y2="${H - B}" stroke="#ccc"/>
<text x="${L - 4}" y="${T + 10}" font-size="13" text-anchor="end" fill="#5d6670">${esc(fmt(y1))}</text>
<text x="${L - 4}" y="${H - B}" font-size="13" text-anchor="end" fill="#5d6670">${esc(fmt(y0))}</text>
<text x="${L}" y="${H - 5}" font-size="13" fill="#5d6670">${esc(opts.xLabel ? opts.xLabel(x0) : x0)}</text>
<text x="${W - R}" y="${H - 5}" font-size="13" text-anchor="end" fill="#5d6670">${esc(opts.xLabel ? opts.xLabel(x1) : x1)}</text>
${lines}${marks}</svg></figure>`;
}

// ---- pages ----

const pages = {
  async home() {
    const d = await api("/api/home");
    finalized = d.finalized;
    const rows = d.recentBlocks.map(blockRow);
    const times = d.chart.map((c) => [c.number, c.blockTimeMs / 1000]);
    const lat = d.recentBlocks.filter((b) => b.finalityLatencyMs !== null).map((b) => [b.number, b.finalityLatencyMs / 1000]).reverse();
    return `<h1>${esc(d.chain || "phala")}</h1>
<div class="cards">
${card("Finalized block", `<span id="finalized">${block(d.finalized)}</span>`)}
${card("Block time", secs(d.blockTimeMs))}
${card("Finality latency", secs(d.finalityLatencyMs))}
${card("Epoch", `${esc(d.epoch.number)} <span class="muted">(#${esc(d.epoch.firstBlock)}–#${esc(d.epoch.lastBlock)})</span>`)}
${card("Committee", `${esc(d.epoch.committee.length)} validator(s)`)}
${card("Issuance", amount(d.issuance))}
${card("Treasury", amount(d.treasury))}
${card("Workers computing", `${esc(d.workers.computing)} of ${esc(d.workers.registered)} registered`)}
${card("Stake in pools", `${amount(d.poolStake)} <span class="muted">(${esc(d.pools)} pools)</span>`)}
</div>
<h2>Block time and finality latency</h2>
${chart("seconds per block, and from a block's time until it was seen final", [
  { name: "block time", color: "#0a7d5a", points: times },
  { name: "finality latency", color: "#c36b00", points: lat },
], { y0: 0, fmt: (v) => `${v.toFixed(1)} s`, xLabel: (b) => `#${b}` })}
<h2>Latest blocks</h2>
<div id="blocks">${table(["Block", "Hash", "Time", "Extrinsics", "Events"], rows, "No blocks yet.")}</div>`;
  },

  async block(id, params) {
    const d = await api(`/api/block/${encodeURIComponent(id)}`);
    const hl = params.get("x");
    const c = d.certificate || {};
    const cert = !c.present ? "none of its own (finalized through a later block's certificate)"
      : c.verified ? `<span class="badge ok">signatures check</span> against epoch ${esc(c.epoch)}'s committee as the node reports it; ${esc(c.signers.length)} of ${esc(c.committee)} signed: ${c.signers.map((s) => s.account ? acct(s.account) : `<code>${esc(s.consensusKey)}</code>`).join(", ")}`
      : `<span class="badge bad">does not verify</span> ${esc(c.error)}`;
    // One card per extrinsic: long calls and events read on any screen width.
    const xts = d.extrinsics.map((x) => `<section class="xt${String(x.index) === hl ? " hl" : ""}"${String(x.index) === hl ? ' id="x-hl"' : ""} aria-label="extrinsic ${esc(x.index)}">
<h3>#${esc(x.index)} <span class="mono">${esc(x.call)}</span></h3>
${kv([["Signer", x.signer ? acct(x.signer) : '<span class="muted">unsigned</span>'], ["Fee", esc(x.fee || "–")], ["Result", esc(x.result || "–")], ["Hash", `<code>${esc(x.hash)}</code>`]])}
${x.events.length ? `<ul class="events">${x.events.map((e) => `<li class="mono">${esc(e.text)}</li>`).join("")}</ul>` : ""}</section>`);
    const evs = d.events.map((e) => `<tr><td>${esc(e.phase)}</td><td class="mono">${esc(e.text)}</td></tr>`);
    const end = d.endsEpoch ? `ends epoch ${esc(d.endsEpoch.epoch)}: epoch ${esc(d.endsEpoch.nextEpoch)} is signed by ${esc(d.endsEpoch.consensusKeys.length)} validator(s)${d.endsEpoch.newLength ? ` and lasts ${esc(d.endsEpoch.newLength)} blocks` : ""}` : "";
    return `<h1>Block #${esc(d.number)}</h1>
${kv([
  ["Hash", `<code>${esc(d.hash)}</code>`],
  ["Parent", `<a class="mono" href="#/block/${esc(d.parentHash)}">${esc(d.parentHash)}</a>`],
  ["Time", d.timestampMs ? `${esc(iso(d.timestampMs))} (${ago(d.timestampMs)})` : "–"],
  ["Finalized", d.finalized ? "yes" : "not yet"],
  ["State root", `<code>${esc(d.stateRoot)}</code>`],
  ["Extrinsics root", `<code>${esc(d.extrinsicsRoot)}</code>`],
  ["Certificate", cert],
  ...(end ? [["Epoch", end]] : []),
])}
<h2>Extrinsics</h2>
${xts.join("") || '<p class="muted">No extrinsics.</p>'}
<h2>Block events</h2>
${table(["Phase", "Event"], evs, "No events outside extrinsics.")}`;
  },

  async account(id) {
    const d = await api(`/api/account/${encodeURIComponent(id)}`);
    const locks = d.locks.map((l) => `<tr><td><code>${esc(l.id)}</code></td><td>${esc(l.holder)}</td><td>${amount(l.amount)}</td></tr>`);
    const shares = d.poolShares.map((s) => `<tr><td><a href="#/pools">pool ${esc(s.pool)}</a></td><td>${esc(s.shares)}</td><td>${amount(s.value)}</td></tr>`);
    const votes = d.votes.map((v) => `<tr><td>${v.referendum !== undefined ? `<a href="#/governance">#${esc(v.referendum)}</a>` : "–"}</td><td>${esc(v.track)}</td><td>${esc(v.vote)}</td></tr>`);
    const transfers = d.transfers.map((t) => `<tr><td>${block(t.block)}</td><td>${acct(t.from)}</td><td>${acct(t.to)}</td><td>${amount(t.amount)}</td></tr>`);
    return `<h1>Account</h1>
${kv([["Address", `<code>${esc(d.address)}</code>`], ["Public key", `<code>${esc(d.hex)}</code>`], ["Nonce", esc(d.nonce)],
  ...(d.isPoolAccount !== null && d.isPoolAccount !== undefined ? [["Stake pool", `the account of <a href="#/pools">pool ${esc(d.isPoolAccount)}</a>`]] : [])])}
<h2>Balances</h2>
<div class="cards" id="balances">
${card("Free", amount(d.free))}${card("Reserved", amount(d.reserved))}${card("Frozen (locked)", amount(d.frozen))}${card("Transferable", amount(d.transferable))}
</div>
<h2>Locks</h2>
${table(["Id", "Held by", "Amount"], locks, "No locks.")}
${d.bond ? `<h2>Validator bond</h2>${kv([["Active", amount(d.bond.active)], ["Unbonding", d.bond.unlocking.map((u) => `${amount(u.amount)} from #${esc(u.at)}`).join(", ") || "–"]])}` : ""}
<h2>Pool shares</h2>
${table(["Pool", "Shares", "Worth"], shares, "No shares in any pool.")}
<h2>Votes</h2>
${table(["Referendum", "Track", "Vote"], votes, "No votes.")}
<h2>Transfers</h2>
<div id="transfers">${table(["Block", "From", "To", "Amount"], transfers, "No transfers found.")}</div>
<p class="muted">Transfers the explorer found in the blocks it indexed (from #${esc(d.transfersIndexedFrom ?? "–")}).</p>
${act({ cli: `phala transfer --suri //You ${d.address} <PHA>`, polkadotJs: `api.tx.balances.transferKeepAlive('${d.address}', amount)` })}`;
  },

  async validators() {
    const d = await api("/api/validators");
    const committees = d.committees.map((c) => `<tr><td>${esc(c.epoch)}</td><td>${c.members.map(acct).join("<br>")}</td></tr>`);
    const cands = d.candidates.map((c) => `<tr><td>${acct(c.account)}</td><td>${amount(c.bond)}</td><td>${amount(c.unbonding)}</td><td>${c.inCommittee ? '<span class="badge ok">in committee</span>' : "–"}</td><td><code>${esc(short(c.consensusKey))}</code></td><td>${esc(c.p2pAddress)}</td></tr>`);
    const slashes = d.slashes.map((s) => `<tr><td>${block(s.block)}</td><td>${acct(s.account)}</td><td>${amount(s.amount)}</td></tr>`);
    const sched = d.schedule.map((s) => `from epoch ${esc(s.firstEpoch)} (#${esc(s.firstBlock)}): ${esc(s.length)} blocks`).join("<br>");
    return `<h1>Validators</h1>
<div class="cards">
${card("Epoch", `${esc(d.epoch.number)} <span class="muted">(#${esc(d.epoch.firstBlock)}–#${esc(d.epoch.lastBlock)})</span>`)}
${card("Next epoch", `${esc(d.next.number)} <span class="muted">(#${esc(d.next.firstBlock)}–#${esc(d.next.lastBlock)})</span>`)}
${card("Committee size", esc(d.committeeSize))}
${card("Minimum bond", amount(d.minBond))}
${card("Unbonding period", `${esc(d.unbondingPeriod)} blocks`)}
${card("Slash", `${esc(d.slashPercent)}%`)}
</div>
<h2>Epoch lengths</h2><p>${sched}${d.pendingLength ? `<br>next epochs: ${esc(d.pendingLength)} blocks (set by governance)` : ""}</p>
<h2>Candidates</h2>
${table(["Account", "Bond", "Unbonding", "Seat", "Consensus key", "P2P address"], cands, "No candidates.")}
<h2>Committees</h2>
${table(["Epoch", "Members"], committees, "No committees on record.")}
<h2>Slashes</h2>
${table(["Block", "Validator", "Amount"], slashes, "No slashes found in the indexed blocks.")}
${act(d.act)}`;
  },

  async gatekeepers() {
    const d = await api("/api/gatekeepers");
    const gks = d.gatekeepers.map((g) => `<tr><td><code>${esc(short(g.pubkey))}</code></td><td>${acct(g.operator)}</td><td>${esc(g.tee || "–")} ${g.simulated ? '<span class="badge sim">SIMULATED TEE</span>' : ""}</td></tr>`);
    const keys = d.masterKeys.map((k) => `<tr><td>${esc(k.version)}</td><td><code>${esc(k.pubkey)}</code></td><td>${block(k.since)}</td></tr>`);
    return `<h1>Gatekeepers</h1>
<div class="cards">${card("Gatekeepers", esc(d.gatekeepers.length))}${card("Master key rotations", esc(d.rotations))}${card("Rotation pending", d.pendingRotation ? `to version ${esc(d.pendingRotation)}` : "no")}</div>
<h2>Gatekeepers</h2>
${table(["Identity key", "Operator", "TEE"], gks, "No gatekeepers.")}
<h2>Master key history</h2>
${table(["Version", "Public key", "Since"], keys, "No master key yet.")}
${act(d.act)}`;
  },

  async workers(_, params) {
    const d = await api("/api/workers");
    const hl = params.get("id");
    const rows = d.workers.map((w) => `<tr${w.pubkey === hl ? ' class="hl" id="x-hl"' : ""}><td><code title="${esc(w.pubkey)}">${esc(short(w.pubkey))}</code></td><td>${esc(w.role)}</td><td>${esc(w.tee)} ${w.simulated ? '<span class="badge sim">SIMULATED</span>' : ""}</td><td>${esc(w.confidenceLevel)}</td><td><code title="${esc(w.measurement)}">${esc(short(w.measurement))}</code></td><td>${esc(w.attestationAgeBlocks)} blocks ago</td><td>${esc(w.state)}</td><td>${esc(w.v ?? "–")}</td><td>${esc(w.p ?? w.score ?? "–")}</td><td>${block(w.lastHeartbeatAt)}</td><td>${amount(w.totalReward)}</td><td>${w.pool !== null && w.pool !== undefined ? `<a href="#/pools">${esc(w.pool)}</a>` : "–"}</td><td>${acctShort(w.operator)}</td></tr>`);
    return `<h1>Workers</h1>
<p class="muted">${esc(d.workers.length)} registered. A simulated TEE protects nothing: it exists for development chains only. The table scrolls sideways on a narrow screen.</p>
${table(["Worker", "Role", "TEE", "Confidence", "Measurement", "Attested", "State", "V", "P", "Last heartbeat", "Rewards", "Pool", "Operator"], rows, "No workers registered.")}
${act(d.act)}`;
  },

  async pools() {
    const d = await api("/api/pools");
    const rows = d.pools.map((p) => `<tr><td>${esc(p.pid)}</td><td>${acct(p.owner)}</td><td>${amount(p.stake)}</td><td>${esc(p.sharePrice ?? "–")}</td><td>${esc(p.commission)}</td><td>${p.apr ? esc(p.apr) : '<span title="An APR needs an hour of history">– (after 1 h)</span>'}</td><td>${p.workers.map((w) => `<a class="mono" href="#/workers?id=${esc(w)}">${esc(short(w))}</a>`).join("<br>") || "–"}</td><td>${esc(p.withdrawQueue.requests)} (${esc(p.withdrawQueue.shares)} shares)</td></tr>`);
    const stake = d.history.map((h) => [h.block, Number(BigInt(h.stake) / 1000000000000n)]);
    const pids = [...new Set(d.history.flatMap((h) => h.sharePrices.map((s) => s.pid)))];
    const colors = ["#0a7d5a", "#c36b00", "#3558c7", "#9b2fa8", "#b3261e"];
    const prices = pids.map((pid, i) => ({ name: `pool ${pid}`, color: colors[i % colors.length],
      points: d.history.map((h) => [h.block, (h.sharePrices.find((s) => s.pid === pid) || {}).price ?? null]) }));
    return `<h1>Stake pools</h1>
${table(["Pool", "Owner", "Stake", "Share price", "Commission", "APR", "Workers", "Withdrawal queue"], rows, "No pools yet.")}
<h2>Stake over time</h2>
${chart("PHA staked in all pools", [{ name: "stake", color: "#0a7d5a", points: stake }], { y0: 0, xLabel: (b) => `#${b}` })}
<h2>Rewards per day</h2>
${chart("PHA paid to pools per day, between samples", [{ name: "rewards per day", color: "#3558c7", points: perDay(d.history) }], { y0: 0, xLabel: (b) => `#${b}`, fmt: (v) => v.toFixed(2) })}
<h2>Share price over time</h2>
${chart("PHA per share", prices, { xLabel: (b) => `#${b}`, fmt: (v) => v.toFixed(4) })}
${act(d.act)}`;
  },

  async contracts(_, params) {
    const d = await api("/api/contracts");
    const hl = params.get("id");
    const hlc = params.get("cluster");
    const rows = d.contracts.map((c) => `<tr${c.id === hl ? ' class="hl" id="x-hl"' : ""}><td><code>${esc(c.id)}</code></td><td><code>${esc(short(c.codeHash))}</code></td><td><code>${esc(short(c.cluster))}</code></td><td>${acct(c.deployer)}</td><td>${esc(c.status)}</td><td>${amount(c.storageDeposit)} <span class="muted">(${esc(c.storageBytes)} bytes)</span></td><td>${esc(c.commandsExecuted)}</td></tr>`);
    const clusters = d.clusters.map((c) => `<tr${c.id === hlc ? ' class="hl" id="x-hl"' : ""}><td><code>${esc(c.id)}</code></td><td>${c.workers.map((w) => `<a class="mono" href="#/workers?id=${esc(w)}">${esc(short(w))}</a>`).join("<br>")}</td><td>${block(c.createdAt)}</td><td>${c.keyPublished ? "yes" : "not yet"}</td></tr>`);
    return `<h1>Contracts</h1>
<p class="muted">Contract state, inputs and outputs are sealed to their cluster: only what the chain records is shown.</p>
${table(["Contract", "Code hash", "Cluster", "Deployer", "Status", "Storage deposit", "Commands run"], rows, "No contracts.")}
<p class="muted">Commands counted in the blocks the explorer indexed (from #${esc(d.commandsIndexedFrom ?? "–")}).</p>
<h2>Clusters</h2>
${table(["Cluster", "Workers", "Created", "Key published"], clusters, "No clusters.")}
${act(d.act)}`;
  },

  async governance() {
    const d = await api("/api/governance");
    const refs = d.referenda.map((r) => {
      const s = r.standing;
      const curves = r.curves && s ? chart(`referendum #${r.index}: thresholds over the decision period (%)`, [
        { name: "approval needed", color: "#0a7d5a", points: r.curves.map((c) => [c.x, c.approval]) },
        { name: "support needed", color: "#c36b00", points: r.curves.map((c) => [c.x, c.support]) },
      ], { y0: 0, y1: 100, xLabel: (x) => `${x}%`, fmt: (v) => `${v.toFixed(0)}%`,
        marks: [[s.x, s.approval, "#0a7d5a"], [s.x, s.support, "#c36b00"]] }) : "";
      return `<section class="ref" aria-label="referendum ${esc(r.index)}"><h2>#${esc(r.index)} · ${esc(r.track ? r.track.name : "unknown track")} · ${esc(r.state)}</h2>
${kv([
  ["Ayes", amount(r.ayes)], ["Nays", amount(r.nays)], ["Support", amount(r.support)],
  ...(s ? [["Approval", `${pct(s.approval)} (needs ${pct(s.minApproval)} now)`], ["Support share", `${pct(s.support)} (needs ${pct(s.minSupport)} now)`]] : []),
  ...(r.endsAt ? [["Ends", `${block(r.endsAt)} (in about ${secs(r.msLeft)})`]] : []),
  ...(r.enactsAt ? [["Enacted at", block(r.enactsAt)]] : []),
])}
${curves}${r.standing ? act(r.act) : ""}</section>`;
    });
    return `<h1>Governance</h1>${refs.join("") || '<p class="muted">No referenda yet.</p>'}
${act({ cli: "phala gov submit --track <track> --call <module.call> --args '{…}' --deposit --suri //You", polkadotJs: "api.tx.referenda.submit(origin, {Inline: call}, {After: 10})" })}`;
  },

  async treasury() {
    const d = await api("/api/treasury");
    const rows = d.spends.map((s) => `<tr><td>${esc(s.index)}</td><td>${amount(s.amount)}</td><td>${acct(s.beneficiary)}</td><td>${block(s.validFrom)}</td><td>${block(s.expireAt)}</td><td>${esc(s.status)}</td></tr>`);
    return `<h1>Treasury</h1>
<div class="cards">${card("Balance", amount(d.balance))}${card("Spendable", amount(d.spendable))}${card("Spend period", `${esc(d.spendPeriod)} blocks`)}${card("Payout period", `${esc(d.payoutPeriod)} blocks`)}${card("Burn", esc(d.burn))}</div>
${kv([["Account", acct(d.account)]])}
<h2>Spends</h2>
${table(["#", "Amount", "Beneficiary", "Valid from", "Expires", "Status"], rows, "No spends.")}
${act(d.act)}`;
  },

  async bridge() {
    const d = await api("/api/bridge");
    const clients = d.clients.map((c) => `<tr><td>${esc(c.id)}</td><td><code title="${esc(c.chain)}">${esc(short(c.chain))}</code></td><td>#${esc(c.height)}</td><td>${ago(c.timeMs)}</td><td>${esc(c.epoch)} (#${esc(c.epochFirst)}–#${esc(c.epochLast)})</td><td>${esc(c.committee.length)}</td><td>${esc(c.status)}</td></tr>`);
    const channels = d.channels.map((c) => {
      const flight = c.inFlight.map((p) => `<tr><td>${esc(p.sequence)}</td><td>${amount(p.amount)}</td><td>${acctShort(p.sender)}</td><td><span class="mono" title="${esc(p.receiver)}">${esc(short(p.receiver))}</span></td><td>${p.timeoutHeight ? `their #${esc(p.timeoutHeight)}` : ""}${p.timeoutHeight && p.timeoutMs ? " or " : ""}${p.timeoutMs ? esc(iso(p.timeoutMs).replace("T", " ").slice(0, 19) + " UTC") : ""}</td></tr>`);
      const acks = c.recentAcks.map((a) => `<tr><td>${esc(a.sequence)}</td><td>${esc(a.ack)}</td></tr>`);
      return `<section aria-label="channel ${esc(c.id)}"><h2>Channel ${esc(c.id)} ↔ their channel ${esc(c.counterpartyChannel)} · ${esc(c.state)}</h2>
${kv([["Client", esc(c.client)], ["Sent", esc(c.sent)], ["Received", esc(c.received)], ["Acknowledged", esc(c.acknowledged)], ["Escrow", `${amount(c.escrowedPha)} in ${acctShort(c.escrowAccount)}`]])}
<h3>In flight</h3>
${table(["#", "Amount", "Sender", "Receiver (their chain)", "Times out at"], flight, "Nothing in flight.")}
<h3>Latest received</h3>
${table(["#", "Acknowledgement"], acks, "Nothing received yet.")}</section>`;
    });
    const assets = d.assets.map((a) => `<tr><td><code title="${esc(a.id)}">${esc(short(a.id))}</code></td><td>${esc(a.trace)}</td><td>${amount(a.supply)}</td></tr>`);
    return `<h1>Bridge</h1>
<p class="muted">Light clients of other phala chains, channels and the packets crossing them. Relayers carry packets; every header, certificate and proof is checked on chain.</p>
<h2>Clients</h2>
${table(["Client", "Chain (genesis)", "Height", "Updated", "Epoch", "Committee", "Status"], clients, "No clients of other chains.")}
${channels.join("") || '<h2>Channels</h2><p class="muted">No channels.</p>'}
<h2>Bridged assets</h2>
${table(["Asset", "Trace", "Supply here"], assets, "No bridged assets on this chain.")}
${act(d.act)}`;
  },
};

// Rewards paid between consecutive samples, scaled to a day.
function perDay(history) {
  const out = [];
  for (let i = 1; i < history.length; i++) {
    const a = history[i - 1], b = history[i];
    const ms = b.timeMs - a.timeMs;
    if (ms <= 0) continue;
    // A session that ended takes its total with it: count no negative rewards.
    const paid = Math.max(0, Number(BigInt(b.rewards) - BigInt(a.rewards)) / 1e12);
    out.push([b.block, (paid * 86400000) / ms]);
  }
  return out;
}

function blockRow(b) {
  return `<tr data-n="${esc(b.number)}"><td>${block(b.number)}</td><td><a class="mono" href="#/block/${esc(b.hash)}">${esc(short(b.hash))}</a></td><td>${ago(b.timeMs)}</td><td>${esc(b.extrinsics)}</td><td>${esc(b.events)}</td></tr>`;
}

// ---- routing ----

function parseRoute() {
  const raw = location.hash.replace(/^#\/?/, "");
  const [path, query] = raw.split("?");
  let parts;
  try { parts = path.split("/").filter(Boolean).map(decodeURIComponent); } catch (_) { parts = ["?"]; }
  return { name: parts[0] || "home", arg: parts[1], params: new URLSearchParams(query || "") };
}

function problem(e) {
  if (e instanceof HttpError && e.status === 404) return `<h1>Not found</h1><p>${esc(e.message)}</p>`;
  if (e instanceof HttpError && e.status === 400) return `<h1>Not understood</h1><p>${esc(e.message)}</p>`;
  if (e instanceof HttpError && e.status === 503 || e instanceof TypeError)
    return `<h1>Node unreachable</h1><p class="notice">${esc(e.message || "the explorer does not answer")} — this page reloads by itself once it is back.</p>`;
  return `<h1>Something went wrong</h1><p class="notice">${esc(e.message)}</p>`;
}

async function render(quiet) {
  const r = parseRoute();
  // Only the pages themselves: never what every object inherits (`constructor`, …).
  const page = Object.hasOwn(pages, r.name) ? pages[r.name] : null;
  route = r;
  if (!page) { app.innerHTML = `<h1>Not found</h1><p>No page ${esc(r.name)}.</p>`; return; }
  if (!quiet) app.setAttribute("aria-busy", "true");
  try {
    const html = await page(r.arg, r.params);
    if (route !== r) return;
    const y = window.scrollY;
    app.innerHTML = html;
    app.dataset.page = r.name;
    setNode();
    if (quiet) window.scrollTo(0, y);
    else {
      const hl = document.getElementById("x-hl");
      if (hl) hl.scrollIntoView({ block: "center" });
    }
  } catch (e) {
    if (route === r && !(quiet && e instanceof HttpError && e.status === 503)) app.innerHTML = problem(e);
  } finally {
    app.removeAttribute("aria-busy");
    app.dataset.ready = String(Date.now());
  }
}

// Live pages re-read their data as blocks arrive, at most every two seconds.
async function refresh() {
  if (refreshing || Date.now() - lastRefresh < 2000) return;
  if (!route || route.name === "block") return;
  refreshing = true;
  lastRefresh = Date.now();
  try { await render(true); } finally { refreshing = false; }
}

function onBlock(b) {
  finalized = b.number;
  setNode();
  if (route && route.name === "home") {
    const f = document.getElementById("finalized");
    if (f) f.innerHTML = block(b.number);
    const body = document.querySelector("#blocks tbody");
    if (body && !body.querySelector(`tr[data-n="${b.number}"]`)) {
      body.insertAdjacentHTML("afterbegin", blockRow(b));
      body.firstElementChild.classList.add("new");
      while (body.children.length > 20) body.lastElementChild.remove();
    }
  }
  refresh();
}

function setNode(status) {
  if (status) {
    const was = nodeUp;
    nodeUp = status.reachable;
    if (status.finalized !== null && status.finalized !== undefined) finalized = status.finalized;
    nodeLine.dataset.node = status.node || "";
    if (nodeUp && was === false) render(true);
    if (!nodeUp) app.dataset.nodeDown = "true"; else delete app.dataset.nodeDown;
  }
  nodeLine.classList.toggle("down", nodeUp === false);
  // While the node is away, the page says its data is as of the last block it saw.
  const stale = document.getElementById("stale");
  if (nodeUp === false && !stale && app.dataset.page) {
    app.insertAdjacentHTML("afterbegin", `<p id="stale" class="notice">The node does not answer: this page shows the chain as of block #${esc(finalized ?? "?")}, and updates by itself when the node is back.</p>`);
  } else if (nodeUp !== false && stale) stale.remove();
  nodeLine.textContent = nodeUp === false
    ? `node unreachable: ${nodeLine.dataset.node || ""} — retrying`
    : nodeUp ? `live · finalized #${finalized ?? "…"}` : "connecting…";
}

function listen() {
  const events = new EventSource("/api/live");
  events.onmessage = (m) => {
    let msg;
    try { msg = JSON.parse(m.data); } catch (_) { return; }
    if (msg.type === "status") setNode(msg);
    else if (msg.type === "block") onBlock(msg.block);
  };
  // The explorer itself went away: the browser retries; say so meanwhile.
  events.onerror = () => { if (events.readyState !== EventSource.OPEN) { nodeUp = false; setNode(); } };
  events.onopen = () => { if (nodeUp === false) render(true); };
}

document.getElementById("search").addEventListener("submit", async (ev) => {
  ev.preventDefault();
  const q = document.getElementById("q").value.trim();
  if (!q) return;
  try {
    const found = await api(`/api/search?q=${encodeURIComponent(q)}`);
    location.hash = found.route;
  } catch (e) {
    route = null;
    app.innerHTML = problem(e);
  }
});

window.addEventListener("hashchange", () => render(false));
listen();
render(false);
