// web/api.js - the daemon's HTTP API (/api/v1/) as small async functions.
//
// Every call sends the bearer token kept in sessionStorage (if any) and
// answers the parsed JSON; a non-2xx answer throws an ApiError carrying
// the daemon's {code, message}, which the page shows as it is.

const TOKEN_KEY = 'armmap.token';

export class ApiError extends Error {
  constructor(status, code, message) {
    super(message);
    this.status = status;
    this.code = code;
  }
}

export function getToken() {
  return sessionStorage.getItem(TOKEN_KEY) || '';
}

export function setToken(t) {
  if (t) sessionStorage.setItem(TOKEN_KEY, t);
  else sessionStorage.removeItem(TOKEN_KEY);
}

function headers(extra) {
  const h = Object.assign({}, extra);
  const t = getToken();
  if (t) h.Authorization = 'Bearer ' + t;
  return h;
}

// method, path under /api/v1, optional JSON body; {text: true} asks for
// text/plain.  Returns parsed JSON, the text, or null for 204.
export async function call(method, path, body, opts = {}) {
  const init = { method, headers: headers(opts.text ? { Accept: 'text/plain' } : {}) };
  if (body !== undefined) {
    init.body = JSON.stringify(body);
    init.headers['Content-Type'] = 'application/json';
  }
  const r = await fetch('/api/v1' + path, init);
  if (r.status === 204) return null;
  const ctype = r.headers.get('Content-Type') || '';
  if (!r.ok) {
    let code = 'HTTP_' + r.status, message = r.statusText;
    if (ctype.startsWith('application/json')) {
      const j = await r.json();
      code = j.code || code;
      message = j.message || message;
    }
    throw new ApiError(r.status, code, message);
  }
  if (ctype.startsWith('application/json')) return r.json();
  return r.text();
}

export const get = (p, o) => call('GET', p, undefined, o);
export const post = (p, b) => call('POST', p, b);
export const del = (p) => call('DELETE', p);

// A report's kernel text, now or at @seq (the /at/{seq}/ read).
export function reportText(id, name, seq) {
  const at = seq == null ? '' : `/at/${seq}`;
  return get(`/machines/${id}${at}/reports/${name}`, { text: true });
}

// The machine's change events as Server-Sent Events, read with fetch so
// that the bearer token goes along (EventSource cannot send it).  Calls
// onEvent(obj) per event, onState('live'|'retrying'|'unsupported'|'gone')
// ('gone': the machine or the credential is refused; no more tries).
// Resumes after a drop with Last-Event-ID.  Returns a stop function.
export function subscribe(id, onEvent, onState) {
  let stopped = false, lastId = null, ctl = null;

  async function once() {
    ctl = new AbortController();
    const h = headers({ Accept: 'text/event-stream' });
    if (lastId != null) h['Last-Event-ID'] = lastId;
    const r = await fetch(`/api/v1/machines/${id}/events`, { headers: h, signal: ctl.signal });
    if (r.status === 404 || r.status === 405) {
      const j = await r.json().catch(() => ({}));
      if (/no such resource/.test(j.message || '')) return 'unsupported';
      return 'gone';                    // the machine is no more
    }
    if (r.status === 401 || r.status === 403) return 'gone';
    if (!r.ok || !r.body) throw new ApiError(r.status, 'HTTP_' + r.status, r.statusText);
    onState('live');
    const rd = r.body.getReader();
    const dec = new TextDecoder();
    let buf = '';
    for (;;) {
      const { value, done } = await rd.read();
      if (done) return 'closed';
      buf += dec.decode(value, { stream: true });
      let cut;
      while ((cut = buf.search(/\r?\n\r?\n/)) >= 0) {
        const block = buf.slice(0, cut);
        buf = buf.slice(cut).replace(/^\r?\n\r?\n/, '');
        let data = '', evId = null;
        for (const line of block.split(/\r?\n/)) {
          if (line.startsWith('data:')) data += (data ? '\n' : '') + line.slice(5).trimStart();
          else if (line.startsWith('id:')) evId = line.slice(3).trim();
        }
        if (evId != null) lastId = evId;
        if (data) {
          try { onEvent(JSON.parse(data)); } catch (e) { /* heartbeat or bad data */ }
        }
      }
    }
  }

  (async () => {
    for (let tries = 0; !stopped && tries < 1000; tries++) {
      let how;
      try { how = await once(); } catch (e) { how = 'error'; }
      if (stopped) return;
      if (how === 'unsupported' || how === 'gone') { onState(how); return; }
      onState('retrying');
      await new Promise((res) => setTimeout(res, 1000));
    }
  })();
  return () => { stopped = true; if (ctl) ctl.abort(); };
}
