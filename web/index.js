// /: the live streams, from GET /api/streams, refreshed every 2 s.
const body = document.querySelector('#streams tbody');
const empty = document.getElementById('empty');

function link(href, text) {
  const a = document.createElement('a');
  a.href = href;
  a.textContent = text;
  return a;
}

async function refresh() {
  let streams = [];
  try {
    streams = (await (await fetch('/api/streams')).json()).streams ?? [];
  } catch {
    // The relay restarting: keep the last list and try again.
    return;
  }
  empty.hidden = streams.length > 0;
  body.replaceChildren(
    ...streams.map((s) => {
      const tr = document.createElement('tr');
      const path = encodeURIComponent(s.name);
      tr.insertCell().append(link(`/watch/${path}`, s.name));
      tr.insertCell().textContent = String(s.viewers);
      tr.insertCell().textContent = s.codecs.join(', ');
      tr.insertCell().textContent = s.connected ? 'connected' : 'connecting';
      tr.insertCell().append(link(`/watch/${path}`, 'watch'));
      return tr;
    }),
  );
}

document.getElementById('new').addEventListener('submit', (e) => {
  e.preventDefault();
  location.href = `/publish/${encodeURIComponent(e.target.stream.value)}`;
});
refresh();
setInterval(refresh, 2000);
