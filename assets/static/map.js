// fleetfeed's map page: every 30 seconds, read /api/v1/datacenters and
// update each datacenter's circle (colour, size), label and table row.
//
// Names and numbers from the server are written with textContent and
// setAttribute, never parsed as HTML.
'use strict';

(function () {
  var map = document.getElementById('world-map');
  var table = document.getElementById('datacenters');
  if (!map || !table || !window.fetch) {
    return;
  }
  var status = document.querySelector('[data-map-status]');
  var LABELS = { ok: 'OK', info: 'Info', warning: 'Warning', critical: 'Critical' };
  var MIN_R = 5;
  var MAX_R = 24;

  function health(h) {
    return Object.prototype.hasOwnProperty.call(LABELS, h) ? h : 'info';
  }

  // byName finds the element with data-dc equal to name, without putting
  // the name in a selector.
  function byName(root, name) {
    var all = root.querySelectorAll('[data-dc]');
    for (var i = 0; i < all.length; i++) {
      if (all[i].getAttribute('data-dc') === name) {
        return all[i];
      }
    }
    return null;
  }

  function setText(row, cls, text) {
    var cell = row.querySelector('.' + cls);
    if (cell) {
      cell.textContent = String(text);
    }
  }

  function update(dc) {
    var h = health(dc.health);
    var g = byName(map, dc.name);
    if (g) {
      var dot = g.querySelector('circle');
      var r = Math.min(MAX_R, MIN_R + 2 * Math.sqrt(dc.posts_hour || 0));
      dot.setAttribute('class', 'dc-dot health-' + h);
      dot.setAttribute('r', r.toFixed(1));
      var title = dot.querySelector('title');
      if (title) {
        title.textContent = dc.name + ': ' + LABELS[h] + ', ' + dc.servers + ' servers, ' + dc.posts_hour + ' posts in the last hour';
      }
      var label = g.querySelector('text');
      label.textContent = dc.name + ' · ' + LABELS[h];
      label.setAttribute('x', (Number(dot.getAttribute('cx')) + r + 3).toFixed(1));
    }
    var row = byName(table, dc.name);
    if (row) {
      var sev = row.querySelector('.dc-health .sev');
      if (sev) {
        sev.className = 'sev sev-' + h;
        sev.textContent = LABELS[h];
      }
      setText(row, 'dc-servers', dc.servers);
      setText(row, 'dc-unhealthy', dc.unhealthy);
      setText(row, 'dc-hour', dc.posts_hour);
      setText(row, 'dc-day', dc.posts_day);
    }
  }

  function refresh() {
    fetch('/api/v1/datacenters', { credentials: 'same-origin', headers: { Accept: 'application/json' } })
      .then(function (res) {
        if (!res.ok) {
          throw new Error(res.status + ' ' + res.statusText);
        }
        return res.json();
      })
      .then(function (list) {
        list.forEach(update);
        map.setAttribute('data-updated', new Date().toISOString());
        if (status) {
          status.textContent = 'Updated at ' + new Date().toLocaleTimeString() + '.';
        }
      })
      .catch(function (err) {
        if (status) {
          status.textContent = 'Could not update the map: ' + String(err.message || err);
        }
      });
  }
  refresh();
  setInterval(refresh, 30 * 1000);
})();
