// fleetfeed's pages: relative times, and live updates over the streaming
// websocket (/api/v1/streaming).
//
// Everything that comes from the server is put into the page with
// textContent and element properties, never parsed as HTML: post text,
// node names and details are written by the outside world.
'use strict';

(function () {
  var MINUTE = 60;
  var HOUR = 60 * MINUTE;
  var DAY = 24 * HOUR;
  var MAX_POSTS = 500; // posts kept on a page left open for days

  // ago says how long ago a date was, as the server renders it.
  function ago(date, now) {
    var s = Math.floor((now - date) / 1000);
    if (s < MINUTE) {
      return 'just now';
    }
    if (s < HOUR) {
      return Math.floor(s / MINUTE) + ' min ago';
    }
    if (s < DAY) {
      return Math.floor(s / HOUR) + ' h ago';
    }
    if (s < 7 * DAY) {
      return Math.floor(s / DAY) + ' d ago';
    }
    return date.toLocaleDateString(undefined, { day: 'numeric', month: 'short', year: 'numeric' });
  }

  // absolute renders a date the way the server's title attributes do.
  function absolute(date) {
    return date.toISOString().replace('T', ' ').replace(/\.\d+Z$/, ' UTC');
  }

  function refreshTimes() {
    var now = Date.now();
    var times = document.querySelectorAll('time[data-ago]');
    for (var i = 0; i < times.length; i++) {
      var d = new Date(times[i].dateTime);
      if (!isNaN(d)) {
        times[i].textContent = ago(d, now);
      }
    }
  }
  refreshTimes();
  setInterval(refreshTimes, 30 * 1000);

  var list = document.querySelector('ol[data-stream]');
  if (!list || !('WebSocket' in window)) {
    return;
  }
  var stream = list.getAttribute('data-stream');
  var since = list.getAttribute('data-since') || '';
  var thread = list.getAttribute('data-thread') || '';
  var bar = document.querySelector('.new-posts');
  var status = document.querySelector('[data-live-status]');
  var empty = document.querySelector('.empty');
  var pending = [];
  var retry = 1000;

  var SEVERITIES = { ok: 'OK', info: 'Info', warning: 'Warning', critical: 'Critical' };

  function severity(s) {
    return Object.prototype.hasOwnProperty.call(SEVERITIES, s) ? s : 'info';
  }

  // idLess compares post ids, decimal strings too long for JS numbers.
  function idLess(a, b) {
    if (a.length !== b.length) {
      return a.length < b.length;
    }
    return a < b;
  }

  function setStatus(text) {
    if (status) {
      status.textContent = text;
    }
  }

  function el(tag, className, text) {
    var e = document.createElement(tag);
    if (className) {
      e.className = className;
    }
    if (text !== undefined && text !== null) {
      e.textContent = text;
    }
    return e;
  }

  // renderPost builds the markup of templates/partials.html "post".
  function renderPost(p) {
    var sev = severity(p.severity);
    var art = el('article', 'post sev-' + sev);
    art.id = 'post-' + p.id;
    art.setAttribute('data-id', p.id);
    art.setAttribute('data-count', String(p.count));
    art.setAttribute('aria-labelledby', 'post-' + p.id + '-text');
    art.tabIndex = -1;

    var head = el('header', 'post-meta');
    var node = el('a', 'node', '@' + p.node);
    node.href = '/@' + encodeURIComponent(p.node);
    head.appendChild(node);
    head.appendChild(document.createTextNode(' '));
    head.appendChild(el('span', 'sev sev-' + sev, SEVERITIES[sev]));
    head.appendChild(document.createTextNode(' '));
    var when = el('a', 'when');
    when.href = '/posts/' + encodeURIComponent(p.id);
    var created = new Date(p.created_at);
    var time = el('time', null, ago(created, Date.now()));
    time.dateTime = p.created_at;
    time.title = absolute(created);
    time.setAttribute('data-ago', '');
    when.appendChild(time);
    head.appendChild(when);
    art.appendChild(head);

    var text = el('p', 'text', p.sentence);
    text.id = 'post-' + p.id + '-text';
    (p.tags || []).forEach(function (tag) {
      text.appendChild(document.createTextNode(' '));
      var a = el('a', 'tag', '#' + tag);
      a.href = '/tags/' + encodeURIComponent(tag);
      text.appendChild(a);
    });
    art.appendChild(text);

    var fold = el('p', 'fold', p.fold_note || '');
    fold.hidden = !p.fold_note;
    art.appendChild(fold);

    if (p.in_reply_to) {
      var reply = el('p', 'reply');
      var link = el('a', null, 'In reply to an earlier post');
      link.href = '/posts/' + encodeURIComponent(p.in_reply_to);
      reply.appendChild(link);
      art.appendChild(reply);
    }
    if (p.caused_by) {
      var cause = el('p', 'cause');
      var causeLink = el('a', null, 'This run was asked for here');
      causeLink.href = '/posts/' + encodeURIComponent(p.caused_by);
      cause.appendChild(causeLink);
      art.appendChild(cause);
    }
    return art;
  }

  function item(p) {
    var li = document.createElement('li');
    li.appendChild(renderPost(p));
    return li;
  }

  // updateCount shows a folded post's new count where the post is.
  function updateCount(p) {
    var art = document.getElementById('post-' + p.id);
    if (!art) {
      for (var i = 0; i < pending.length; i++) {
        if (pending[i].id === p.id && p.count > pending[i].count) {
          pending[i] = p;
        }
      }
      return;
    }
    if (p.count <= Number(art.getAttribute('data-count'))) {
      return;
    }
    art.setAttribute('data-count', String(p.count));
    var fold = art.querySelector('.fold');
    if (fold) {
      fold.textContent = p.fold_note || '';
      fold.hidden = !p.fold_note;
    }
  }

  // atTop reports whether the start of the list is on screen, so a new
  // post can appear without moving what the reader is looking at.
  function atTop() {
    return list.getBoundingClientRect().top >= 0;
  }

  function showPosts(posts) {
    var first = null;
    posts.forEach(function (p) {
      if (document.getElementById('post-' + p.id)) {
        return;
      }
      var li = item(p);
      li.firstChild.classList.add('is-new');
      list.insertBefore(li, list.firstChild);
      first = li.firstChild;
    });
    while (list.children.length > MAX_POSTS) {
      list.removeChild(list.lastElementChild);
    }
    if (empty && list.children.length > 0) {
      empty.hidden = true;
    }
    return first;
  }

  function updateBar() {
    if (!bar) {
      return;
    }
    var n = pending.length;
    bar.hidden = n === 0;
    bar.textContent = n === 1 ? '1 new post — show it' : n + ' new posts — show them';
    if (n > 0) {
      setStatus((n === 1 ? '1 new post' : n + ' new posts') + ' above the list.');
    }
  }

  if (bar) {
    bar.addEventListener('click', function () {
      var first = showPosts(pending);
      pending = [];
      updateBar();
      if (first) {
        first.focus();
        first.scrollIntoView({ block: 'start' });
      }
    });
  }

  function onPost(p) {
    if (idLess(since, p.id)) {
      since = p.id;
    }
    if (document.getElementById('post-' + p.id)) {
      updateCount(p);
      return;
    }
    if (thread) {
      // The thread page lists its posts oldest first: a reply goes last.
      if (p.in_reply_to === thread) {
        list.appendChild(item(p));
      }
      return;
    }
    for (var i = 0; i < pending.length; i++) {
      if (pending[i].id === p.id) {
        return;
      }
    }
    if (atTop() && pending.length === 0) {
      showPosts([p]);
    } else {
      pending.push(p);
      updateBar();
    }
  }

  function handle(m) {
    switch (m.event) {
      case 'subscribed':
        retry = 1000;
        setStatus(thread ? 'Live: new replies appear below.' : 'Live: new posts appear at the top.');
        break;
      case 'update':
        if (m.payload) {
          onPost(m.payload);
        }
        break;
      case 'update_count':
        if (m.payload) {
          updateCount(m.payload);
        }
        break;
      case 'error':
        setStatus('Live updates: ' + String(m.payload));
        break;
    }
  }

  function connect() {
    var scheme = location.protocol === 'https:' ? 'wss://' : 'ws://';
    var ws = new WebSocket(scheme + location.host + '/api/v1/streaming');
    ws.addEventListener('open', function () {
      var msg = { type: 'subscribe', stream: stream };
      if (since) {
        msg.since_id = since; // the server replays what the page missed
      }
      ws.send(JSON.stringify(msg));
    });
    ws.addEventListener('message', function (e) {
      var m;
      try {
        m = JSON.parse(e.data);
      } catch (err) {
        return;
      }
      handle(m);
    });
    ws.addEventListener('close', function () {
      setStatus('Live updates paused; reconnecting…');
      setTimeout(connect, retry);
      retry = Math.min(retry * 2, 30 * 1000);
    });
  }
  connect();
})();
