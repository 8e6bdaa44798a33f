// gpuplexd's web dashboard: polls the v1 API (docs/api.md) once a second with the
// token the user gives (kept in sessionStorage, sent as Authorization: Bearer) and
// draws GPUs (utilization and memory charts, the MIG layout as slots), leases per
// tenant and the metering table. Everything is built with DOM calls and textContent:
// no HTML from the API is ever parsed. The API does the filtering: a tenant's token
// sees its own leases only.
'use strict';

const POLL_MS = 1000;
const USAGE_MS = 5000;
const HISTORY = 120; // samples (seconds) kept per chart
const TOKEN_KEY = 'gpuplex.token';
const GiB = 1024 * 1024 * 1024;

const state = {
  token: sessionStorage.getItem(TOKEN_KEY) || '',
  me: null,
  timer: null,
  usageAt: 0,
  gpus: new Map(), // index -> {card, util chart, mem chart, history}
  prev: new Map(), // lease id -> {gpu_seconds, wait_seconds, t}
  share: new Map(), // lease id -> {gpu, wait} over the last interval
  armed: null, // lease id whose release button waits for its confirmation
  armedUntil: 0,
};

const $ = (id) => document.getElementById(id);

function el(tag, props, ...kids) {
  const e = document.createElement(tag);
  for (const [k, v] of Object.entries(props || {})) {
    if (k === 'class') e.className = v;
    else if (k === 'text') e.textContent = v;
    else if (k.startsWith('on')) e.addEventListener(k.slice(2), v);
    else e.setAttribute(k, v);
  }
  for (const kid of kids) if (kid != null) e.append(kid);
  return e;
}

function bytes(n) {
  if (n == null) return '–';
  const units = ['B', 'KiB', 'MiB', 'GiB', 'TiB'];
  let i = 0;
  while (n >= 1024 && i < units.length - 1) {
    n /= 1024;
    i++;
  }
  return (i ? n.toFixed(n < 10 ? 2 : 1) : String(n)) + ' ' + units[i];
}

const num = (v, d = 1) => (v == null ? '–' : Number(v).toFixed(d));

class ApiError extends Error {
  constructor(status, code, message, path) {
    super(message);
    this.status = status;
    this.code = code;
    this.path = path;
  }
}

async function api(method, path) {
  const r = await fetch(path, {
    method,
    headers: { Authorization: 'Bearer ' + state.token },
    cache: 'no-store',
    credentials: 'omit',
  });
  let body = null;
  try {
    body = await r.json();
  } catch (e) {
    body = null;
  }
  if (!r.ok) {
    const err = (body && body.error) || {};
    throw new ApiError(r.status, err.code || 'HTTP ' + r.status, err.message || r.statusText, path);
  }
  return body;
}

function showError(e) {
  const box = $('error');
  if (!e) {
    box.hidden = true;
    box.textContent = '';
    return;
  }
  box.hidden = false;
  box.textContent = e instanceof ApiError ? `${e.path}: ${e.code}: ${e.message}`
                                          : 'gpuplexd unreachable: ' + e.message;
}

// --- token ------------------------------------------------------------------------------

function showLogin(message) {
  clearTimeout(state.timer);
  state.timer = null;
  $('dash').hidden = true;
  $('login').hidden = false;
  $('logout').hidden = true;
  $('who').textContent = '';
  if (message) showError(message);
  $('token').focus();
}

async function start() {
  try {
    state.me = await api('GET', '/v1/whoami');
  } catch (e) {
    if (e instanceof ApiError && e.status === 401) {
      sessionStorage.removeItem(TOKEN_KEY);
      state.token = '';
    }
    showLogin(e);
    return;
  }
  showError(null);
  $('who').textContent = `${state.me.tenant} (${state.me.role})`;
  $('login').hidden = true;
  $('dash').hidden = false;
  $('logout').hidden = false;
  document.body.classList.toggle('admin', state.me.role === 'admin');
  try {
    const h = await api('GET', '/healthz');
    $('node').textContent = `gpuplexd ${h.version} · driver ${h.driver_version} · ${h.gpus} GPU(s)`;
  } catch (e) {
    showError(e);
  }
  poll();
}

$('login-form').addEventListener('submit', (ev) => {
  ev.preventDefault();
  const t = $('token').value.trim();
  if (!t) return;
  state.token = t;
  sessionStorage.setItem(TOKEN_KEY, t);
  $('token').value = '';
  start();
});

$('logout').addEventListener('click', () => {
  sessionStorage.removeItem(TOKEN_KEY);
  state.token = '';
  state.me = null;
  for (const g of state.gpus.values()) {
    g.util.destroy();
    g.mem.destroy();
  }
  state.gpus.clear();
  state.prev.clear();
  state.share.clear();
  state.usageAt = 0; // the next token's metering is fetched at once, never the last one's shown
  $('gpus').replaceChildren();
  $('leases').replaceChildren();
  document.querySelector('#usage tbody').replaceChildren();
  $('usage-window').textContent = '';
  $('node').textContent = '';
  showError(null);
  showLogin();
});

// --- polling ----------------------------------------------------------------------------

async function poll() {
  state.timer = null;
  try {
    const now = Date.now() / 1000;
    const [gpus, leases] = await Promise.all([api('GET', '/v1/gpus'),
      api('GET', '/v1/leases?state=active')]);
    const migs = await Promise.all(gpus.map((g) => (g.mig_mode === 'enabled'
      ? api('GET', `/v1/gpus/${g.index}/mig`) : null)));
    drawGpus(gpus, migs, now);
    shares(leases, now);
    drawLeases(leases);
    if (Date.now() - state.usageAt >= USAGE_MS) {
      state.usageAt = Date.now();
      drawUsage(await api('GET', '/v1/usage'));
    }
    showError(null);
    $('updated').textContent = 'updated ' + new Date().toLocaleTimeString();
  } catch (e) {
    showError(e);
    if (e instanceof ApiError && e.status === 401) {
      sessionStorage.removeItem(TOKEN_KEY);
      state.token = '';
      showLogin(e);
      return;
    }
  }
  if (state.me) state.timer = setTimeout(poll, POLL_MS);
}

// --- GPUs -------------------------------------------------------------------------------

const clock = (t) => new Date(t * 1000).toLocaleTimeString([], { hour12: false });

function chart(target, label, color, max) {
  const opts = {
    width: 290,
    height: 130,
    legend: { show: false },
    cursor: { show: false },
    scales: {
      // the samples so far, at most the last HISTORY seconds; the newest at the right edge
      x: { time: true, range: (u, lo, hi) => [Math.min(Math.max(lo, hi - HISTORY), hi - 5), hi] },
      y: { range: (u, lo, hi) => [0, Math.max(max || 0, hi || 1)] },
    },
    axes: [{ space: 70, size: 24, values: (u, ticks) => ticks.map(clock) }, { size: 42 }],
    series: [{}, { label, stroke: color, fill: color + '33', width: 1.5 }],
  };
  return new uPlot(opts, [[], []], target);
}

function gpuCard(g) {
  const card = el('div', { class: 'gpu', 'data-gpu': String(g.index) });
  const title = el('h3');
  const facts = el('div', { class: 'facts' });
  const utilBox = el('div', { class: 'chart' }, el('div', { class: 'title', text: 'utilization %' }));
  const memBox = el('div', { class: 'chart' }, el('div', { class: 'title', text: 'memory used GiB' }));
  const mig = el('div', { class: 'mig' });
  card.append(title, facts, el('div', { class: 'charts' }, utilBox, memBox), mig);
  $('gpus').append(card);
  const total = g.memory_total_bytes / GiB;
  return {
    card, title, facts, mig,
    util: chart(utilBox, 'utilization', '#2f6fdf', 100),
    mem: chart(memBox, 'memory', '#15966e', total),
    t: [], u: [], m: [],
  };
}

function drawGpus(gpus, migs, now) {
  const seen = new Set();
  gpus.forEach((g, i) => {
    seen.add(g.index);
    let c = state.gpus.get(g.index);
    if (!c) {
      c = gpuCard(g);
      state.gpus.set(g.index, c);
    }
    c.title.textContent = `GPU ${g.index} · ${g.name}`;
    const facts = [
      `util ${g.utilization_gpu_pct == null ? '–' : g.utilization_gpu_pct + ' %'}`,
      `memory ${bytes(g.memory_used_bytes)} / ${bytes(g.memory_total_bytes)}`,
      g.temperature_c == null ? null : `${g.temperature_c} °C`,
      g.power_w == null ? null : `${num(g.power_w, 0)} W`,
      `MIG ${g.mig_mode || '–'}`,
      g.exclusive ? 'held exclusively' : null,
      `${g.leases.length} lease(s)`,
    ];
    c.facts.textContent = facts.filter((f) => f).join(' · ');
    c.t.push(now);
    c.u.push(g.utilization_gpu_pct);
    c.m.push(g.memory_used_bytes / GiB);
    if (c.t.length > HISTORY) {
      c.t.shift();
      c.u.shift();
      c.m.shift();
    }
    c.util.setData([c.t, c.u]);
    c.mem.setData([c.t, c.m]);
    drawMig(c.mig, migs[i]);
  });
  for (const [idx, c] of state.gpus) {
    if (!seen.has(idx)) {
      c.util.destroy();
      c.mem.destroy();
      c.card.remove();
      state.gpus.delete(idx);
    }
  }
}

// The MIG layout: one box per slot (memory slice) of the GPU, each GPU instance drawn over
// the slots it takes (start, size), leased ones filled.
function drawMig(box, m) {
  box.replaceChildren();
  if (!m) return;
  let slots = 0;
  for (const p of m.profiles || [])
    for (const pl of p.placements || []) slots = Math.max(slots, pl.start + pl.size);
  for (const gi of m.instances || []) slots = Math.max(slots, gi.start + gi.size);
  if (!slots) return;
  const row = el('div', { class: 'slots', 'data-slots': String(slots) });
  for (let s = 1; s < slots; s++) {
    const line = el('div', { class: 'slot-grid' });
    line.style.left = (100 * s / slots) + '%';
    row.append(line);
  }
  for (const gi of m.instances || []) {
    const who = gi.leased ? (gi.lease || 'leased') : 'free';
    const slot = el('div', { class: 'slot' + (gi.leased ? ' leased' : ''),
      'data-profile': gi.profile, 'data-start': String(gi.start),
      title: `GPU instance ${gi.gpu_instance_id}: ${gi.profile}, slots ${gi.start}–` +
             `${gi.start + gi.size - 1}, ${gi.memory_mib} MiB, ${gi.sm_count} SMs, ${who}` },
    el('div', { text: gi.profile }), el('div', { class: 'sub', text: who }));
    slot.style.left = `calc(${100 * gi.start / slots}% + 2px)`;
    slot.style.width = `calc(${100 * gi.size / slots}% - 4px)`;
    row.append(slot);
  }
  const n = (m.instances || []).length;
  box.append(el('div', { class: 'title',
    text: `MIG layout (${m.model || m.name}): ${n} instance(s) on ${slots} slots` }), row);
}

// --- leases -----------------------------------------------------------------------------

// GPU utilization and wait over the last interval, by the engine's one rule
// (gpx_lease_util, docs/api.md): gpu_util_source "arbiter": the gpu_seconds delta
// between two polls; "nvml": the driver's gpu_util_pct; null: not known (null, shown
// as "–", never a made-up figure). wait: the wait_seconds delta.
function shares(leases, now) {
  const next = new Map();
  for (const l of leases) {
    const p = state.prev.get(l.id);
    const nvml = l.gpu_util_source === 'nvml' && l.gpu_util_pct != null;
    if (p && now > p.t) {
      const dt = now - p.t;
      const arb = l.gpu_util_source === 'arbiter'
        ? Math.min(1, Math.max(0, (l.gpu_seconds - p.gpu_seconds) / dt)) : null;
      state.share.set(l.id, {
        gpu: nvml ? l.gpu_util_pct / 100 : arb,
        wait: Math.max(0, (l.wait_seconds - p.wait_seconds) / dt),
      });
    } else if (nvml) {
      state.share.set(l.id, { gpu: l.gpu_util_pct / 100, wait: 0 });
    }
    next.set(l.id, { gpu_seconds: l.gpu_seconds, wait_seconds: l.wait_seconds, t: now });
  }
  for (const id of state.share.keys()) if (!next.has(id)) state.share.delete(id);
  state.prev = next;
}

// used_bytes: the region's count (vgpu, timeslice) or NVML's for the whole GPU or MIG
// instance (exclusive, mig; used_source null: not known); held_memory_bytes: the quota,
// or the GPU's / instance's memory.
function memCell(l) {
  const known = l.used_source != null;
  const used = l.used_bytes || 0;
  const quota = l.held_memory_bytes != null ? l.held_memory_bytes : l.memory_bytes;
  const bar = el('span', { class: 'bar' }, el('span'));
  bar.firstChild.style.width = quota && known ? Math.min(100, 100 * used / quota) + '%' : '0%';
  return el('td', { class: 'num' }, quota ? bar : null,
    `${known ? bytes(used) : '–'} / ${quota ? bytes(quota) : 'no quota'}`);
}

function releaseButton(l) {
  const armed = state.armed === l.id && Date.now() < state.armedUntil;
  return el('button', {
    type: 'button',
    class: 'release' + (armed ? ' armed' : ''),
    'data-lease': l.id,
    text: armed ? 'confirm release' : 'release',
    onclick: () => release(l.id),
  });
}

async function release(id) {
  if (state.armed !== id || Date.now() >= state.armedUntil) {
    state.armed = id; // a second click within 5 s releases
    state.armedUntil = Date.now() + 5000;
  } else {
    state.armed = null;
    try {
      await api('DELETE', '/v1/leases/' + encodeURIComponent(id));
    } catch (e) {
      showError(e);
      return;
    }
  }
  clearTimeout(state.timer);
  poll();
}

function drawLeases(leases) {
  const admin = state.me && state.me.role === 'admin';
  const box = $('leases');
  const byTenant = new Map();
  for (const l of leases) {
    if (!byTenant.has(l.tenant)) byTenant.set(l.tenant, []);
    byTenant.get(l.tenant).push(l);
  }
  const kids = [];
  if (!leases.length) kids.push(el('p', { class: 'muted', text: 'No active leases.' }));
  for (const [tenant, ls] of [...byTenant].sort((a, b) => a[0].localeCompare(b[0]))) {
    const used = ls.reduce((s, l) => s + (l.used_bytes || 0), 0);
    const head = el('tr', {}, ...['lease', 'mode', 'GPU', 'memory used / quota', 'GPU time',
      'wait', 'processes', 'held'].map((h) => el('th', { text: h })),
    admin ? el('th', { text: '' }) : null);
    const rows = ls.map((l) => {
      const s = state.share.get(l.id);
      const gpu = l.mig ? `${l.gpu_index} · ${l.mig_profile}` : String(l.gpu_index);
      const held = (Date.now() * 1e6 - l.created_ns) / 1e9;
      return el('tr', { 'data-lease': l.id },
        el('td', { text: l.id }),
        el('td', { text: l.mode + (l.weight != null && l.mode !== 'vgpu' ? ` ×${l.weight}` : '') }),
        el('td', { text: gpu }),
        memCell(l),
        el('td', { class: 'num', text: !s ? '…' : s.gpu == null ? '–' : num(100 * s.gpu) + ' %' }),
        el('td', { class: 'num',
          text: `${num(l.wait_seconds, 2)} s` + (s && s.wait > 0 ? ` (+${num(100 * s.wait)} %)` : '') }),
        el('td', { class: 'num', text: String((l.processes || []).length) }),
        el('td', { class: 'num', text: `${num(held, 0)} s` }),
        admin ? el('td', {}, releaseButton(l)) : null);
    });
    kids.push(el('div', { class: 'tenant', 'data-tenant': tenant },
      el('h3', { text: `${tenant} — ${ls.length} lease(s), ${bytes(used)} used` }),
      el('table', {}, el('thead', {}, head), el('tbody', {}, ...rows))));
  }
  box.replaceChildren(...kids);
}

// --- metering ---------------------------------------------------------------------------

function drawUsage(u) {
  $('usage-window').textContent = `From ${u.from} to ${u.to}.`;
  const rows = (u.tenants || []).map((t) => el('tr', { 'data-tenant': t.tenant },
    el('td', { text: t.tenant }),
    el('td', { class: 'num', text: String(t.leases) }),
    el('td', { class: 'num', text: num(t.lease_seconds) }),
    el('td', { class: 'num', text: num(t.gpu_seconds) }),
    el('td', { class: 'num', text: num(t.wait_seconds, 2) }),
    el('td', { class: 'num', text: num(t.memory_quota_gib_seconds) }),
    el('td', { class: 'num', text: num(t.memory_used_gib_seconds) }),
    el('td', { class: 'num', text: bytes(t.memory_peak_bytes) })));
  if (!rows.length)
    rows.push(el('tr', {}, el('td', { colspan: '8', class: 'muted', text: 'No usage yet.' })));
  document.querySelector('#usage tbody').replaceChildren(...rows);
}

if (state.token) start();
else showLogin();
