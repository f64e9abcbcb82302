// Start page: uploads with progress (file picker and drag-and-drop) and a case list that follows
// running analyses. Without this script the form still posts and the list is still there.
'use strict';
(function () {
  const visible = window.PcapxrayCommon.visible;
  const form = document.getElementById('upload');
  const input = document.getElementById('capture');
  const drop = document.getElementById('drop');
  const status = document.getElementById('upload-status');
  const errorBox = document.getElementById('upload-error');
  const bar = document.getElementById('upload-progress');
  const limit = Number(form.dataset.limit);

  function size(n) {
    const units = ['KiB', 'MiB', 'GiB', 'TiB'];
    if (n < 1024) return n + ' bytes';
    let v = n, u = '';
    for (const unit of units) { v /= 1024; u = unit; if (v < 1024) break; }
    return (v < 10 ? v.toFixed(1) : v.toFixed(0)) + ' ' + u;
  }

  function showError(text) {
    errorBox.textContent = text;
    errorBox.hidden = !text;
  }

  // One file → one case. Resolves with the case URL, rejects with a message for the page.
  function upload(file) {
    return new Promise(function (resolve, reject) {
      if (file.size > limit) {
        reject(file.name + ' is ' + size(file.size) + ', larger than the upload limit of ' + size(limit) + '; it was not sent.');
        return;
      }
      const data = new FormData();
      data.append('capture', file, file.name);
      const xhr = new XMLHttpRequest();
      xhr.open('POST', '/cases');
      xhr.setRequestHeader('Accept', 'application/json');
      bar.hidden = false;
      bar.value = 0;
      xhr.upload.onprogress = function (e) {
        if (e.lengthComputable) {
          bar.value = Math.round(100 * e.loaded / e.total);
          status.textContent = 'Uploading ' + file.name + ': ' + size(e.loaded) + ' of ' + size(e.total);
        }
      };
      xhr.upload.onload = function () { status.textContent = 'Checking ' + file.name + '…'; };
      xhr.onload = function () {
        bar.hidden = true;
        let body = {};
        try { body = JSON.parse(xhr.responseText); } catch (_) { /* not JSON */ }
        if (xhr.status === 201 && body.url) resolve(body.url);
        else reject(body.error || ('The server refused ' + file.name + ' (HTTP ' + xhr.status + ').'));
      };
      xhr.onerror = function () {
        bar.hidden = true;
        reject('The upload of ' + file.name + ' failed: the connection to the server was lost.');
      };
      status.textContent = 'Uploading ' + file.name + '…';
      xhr.send(data);
    });
  }

  async function uploadAll(files) {
    showError('');
    const list = Array.from(files);
    const failures = [];
    let last = null;
    for (const file of list) {
      try { last = await upload(file); } catch (message) { failures.push(String(message)); continue; }
      // Each case is listed (and followed) as soon as it is in, not after the last file.
      if (list.length > 1) refresh();
    }
    status.textContent = '';
    if (failures.length) showError(failures.join(' '));
    if (list.length === 1 && last) { window.location.assign(last); return; }
    refresh();
  }

  form.addEventListener('submit', function (e) {
    e.preventDefault();
    if (input.files.length) uploadAll(input.files);
    else showError('Choose a capture file first.');
  });
  input.setAttribute('multiple', '');
  ['dragenter', 'dragover'].forEach(function (t) {
    drop.addEventListener(t, function (e) { e.preventDefault(); drop.classList.add('over'); });
  });
  ['dragleave', 'drop'].forEach(function (t) {
    drop.addEventListener(t, function () { drop.classList.remove('over'); });
  });
  drop.addEventListener('drop', function (e) {
    e.preventDefault();
    if (e.dataTransfer && e.dataTransfer.files.length) uploadAll(e.dataTransfer.files);
  });

  // The case list, redrawn from /api/cases while anything is queued or running.
  const table = document.getElementById('cases');
  const tbody = table.querySelector('tbody');

  function cell(row, child) {
    const td = document.createElement('td');
    if (typeof child === 'string') td.textContent = child; else td.appendChild(child);
    row.appendChild(td);
    return td;
  }

  function render(cases) {
    const rows = cases.map(function (c) {
      const tr = document.createElement('tr');
      tr.dataset.id = c.id;
      const a = document.createElement('a');
      a.href = '/cases/' + encodeURIComponent(c.id);
      a.textContent = visible(c.title || c.name);
      const first = cell(tr, a);
      if (c.title) {
        const evidence = document.createElement('span');
        evidence.className = 'hint';
        evidence.textContent = ' ' + visible(c.name);
        first.appendChild(evidence);
      }
      cell(tr, size(c.size));
      const time = document.createElement('time');
      const when = new Date(c.uploaded * 1000);
      time.dateTime = when.toISOString();
      time.textContent = when.toLocaleString();
      cell(tr, time);
      const st = cell(tr, c.status);
      st.className = 'status status-' + c.status;
      const del = document.createElement('form');
      del.method = 'post';
      del.action = '/cases/' + encodeURIComponent(c.id) + '/delete';
      const button = document.createElement('button');
      button.type = 'submit';
      button.className = 'danger';
      button.textContent = 'Delete';
      button.setAttribute('aria-label', 'Delete case ' + visible(c.title || c.name));
      del.appendChild(button);
      cell(tr, del);
      return tr;
    });
    tbody.replaceChildren.apply(tbody, rows);
    table.hidden = cases.length === 0;
    const empty = document.getElementById('no-cases');
    if (empty) empty.hidden = cases.length > 0;
    return cases.some(function (c) { return c.status === 'queued' || c.status === 'running'; });
  }

  // Deleting asks first (the forms also work without this script, without asking).
  document.addEventListener('submit', function (e) {
    const f = e.target;
    if (f.matches('form[action$="/delete"]') && !window.confirm('Delete this case with its capture and reports?')) e.preventDefault();
  });

  let timer = null;
  function refresh() {
    clearTimeout(timer);
    fetch('/api/cases', { headers: { Accept: 'application/json' } })
      .then(function (r) { return r.json(); })
      .then(function (body) { if (render(body.cases)) timer = setTimeout(refresh, 2000); })
      .catch(function () { timer = setTimeout(refresh, 5000); });
  }
  refresh();
})();
