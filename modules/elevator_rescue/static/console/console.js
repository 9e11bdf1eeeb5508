/* The 96196 dispatch console (for the dispatchers and fire rescue).
 *
 * Served under /{db}/elevator/console/; logs in like the technician's
 * rescue page (the platform account, the same session store) and calls the
 * JSON API beside the page with the session in the Authorization header.
 * The server applies the user's rights and record rules. It polls the open
 * tickets every second with a cursor (only changed tickets come back in
 * full), runs the clocks in the browser from the server's UTC timestamps
 * (corrected by the server's `now`) and shows times in Beijing time.
 * Leaflet is vendored (leaflet/); the tile layer is drawn only when the
 * server configures one ([elevator_console] tile_url).
 */
(function () {
  'use strict';

  var DB = decodeURIComponent(location.pathname.split('/')[1] || '');
  var ROOT = '/' + encodeURIComponent(DB);
  var RPC_URL = ROOT + '/rpc/';
  var API = ROOT + '/elevator/console/api/';
  var STORE = 'elevator-portal:' + DB;
  var TIME_ZONE = 'Asia/Shanghai';

  var session = null;
  var profile = null;
  var tickets = {};      // id -> row
  var order = [];        // ids, newest first
  var cursor = null;
  var loaded = false;  // the first answer came (no beep for it)
  var skew = 0;          // server clock - browser clock (ms)
  var selected = null;
  var detail = null;
  var pollTimer = null;
  var tickTimer = null;
  var audio = null;
  var map = null;
  var markers = {};
  var fitted = false;
  var app = document.getElementById('app');
  document.body.dataset.alerts = '0';
  document.body.dataset.polls = '0';

  // -- DOM (text only: nothing from the server is HTML) ----------------------

  function h(tag, attrs) {
    var el = document.createElement(tag);
    Object.keys(attrs || {}).forEach(function (key) {
      var value = attrs[key];
      if (value === null || value === undefined || value === false) {
        return;
      }
      if (key.slice(0, 2) === 'on') {
        el.addEventListener(key.slice(2), value);
      } else if (key === 'className') {
        el.className = value;
      } else if (value === true) {
        el.setAttribute(key, '');
      } else {
        el.setAttribute(key, value);
      }
    });
    Array.prototype.slice.call(arguments, 2).forEach(function (c) {
      add(el, c);
    });
    return el;
  }

  function add(el, child) {
    if (arguments.length > 2) {
      Array.prototype.slice.call(arguments, 1).forEach(function (c) {
        add(el, c);
      });
      return;
    }
    if (child === null || child === undefined || child === false) {
      return;
    }
    if (Array.isArray(child)) {
      child.forEach(function (c) { add(el, c); });
    } else if (typeof child === 'string' || typeof child === 'number') {
      el.appendChild(document.createTextNode(String(child)));
    } else {
      el.appendChild(child);
    }
  }

  function show() {
    app.textContent = '';
    add(app, Array.prototype.slice.call(arguments));
  }

  var toastTimer = null;

  function toast(message, ok) {
    var el = document.getElementById('toast');
    el.textContent = message;
    el.className = ok ? 'ok' : '';
    el.hidden = false;
    clearTimeout(toastTimer);
    toastTimer = setTimeout(function () { el.hidden = true; },
      ok ? 2500 : 8000);
  }

  // -- time --------------------------------------------------------------------

  function now() { return Date.now() + skew; }

  function parse(text) { return text ? Date.parse(text) : null; }

  var beijing = new Intl.DateTimeFormat('zh-CN', {
    timeZone: TIME_ZONE, hour12: false, month: '2-digit', day: '2-digit',
    hour: '2-digit', minute: '2-digit', second: '2-digit'});

  function local(text) {
    return text ? beijing.format(new Date(parse(text))) : '';
  }

  function span(ms) {
    var s = Math.floor(Math.abs(ms) / 1000);
    var hours = Math.floor(s / 3600);
    var mm = String(Math.floor(s / 60) % 60).padStart(2, '0');
    var ss = String(s % 60).padStart(2, '0');
    return (hours ? hours + ':' : '') + mm + ':' + ss;
  }

  // The thresholds of ticket.urgency_of on the server.
  function urgency(row) {
    if (!row.deadline || !row.deadline_seconds ||
        row.state === 'released') {
      return null;
    }
    var ratio = (parse(row.deadline) - now()) /
      (row.deadline_seconds * 1000);
    if (ratio < 0) { return 'overdue'; }
    if (ratio <= 0.2) { return 'danger'; }
    if (ratio <= 0.5) { return 'warning'; }
    return 'normal';
  }

  // -- server ------------------------------------------------------------------

  function Failure(message, status) {
    this.message = message;
    this.status = status || 0;
  }
  Failure.prototype = Object.create(Error.prototype);

  function b64(text) {
    return btoa(unescape(encodeURIComponent(text)));
  }

  function request(method, path, body) {
    var headers = {Authorization: 'Session ' + b64(session.login + ':' +
      session.uid + ':' + session.key)};
    if (body !== undefined) {
      headers['Content-Type'] = 'application/json';
    }
    return fetch(API + path, {
      method: method, headers: headers, credentials: 'omit',
      cache: 'no-store',
      body: body === undefined ? undefined : JSON.stringify(body)
    }).then(function (response) {
      return response.text().then(function (text) {
        var data = null;
        try { data = JSON.parse(text); } catch (e) { data = null; }
        if (response.status === 401) {
          forget();
          route();
          throw new Failure('登录已过期，请重新登录。', 401);
        }
        if (!response.ok) {
          var message = data && data.error && data.error.message;
          throw new Failure(message ||
            '服务器错误（' + response.status + '），请稍后再试。',
            response.status);
        }
        return data;
      });
    }, function () {
      throw new Failure('网络不通，正在重试…');
    });
  }

  function login(user, password) {
    return fetch(RPC_URL, {
      method: 'POST', headers: {'Content-Type': 'application/json'},
      credentials: 'omit', cache: 'no-store',
      body: JSON.stringify({id: 1, method: 'common.db.login',
        params: [user, {password: password}, 'zh_CN']})
    }).then(function (response) {
      if (response.status === 429) {
        throw new Failure('尝试次数过多，请稍后再试。');
      }
      if (!response.ok) { throw new Failure('账号或密码错误。'); }
      return response.json();
    }, function () {
      throw new Failure('网络不通，请检查网络后重试。');
    }).then(function (data) {
      if (data.error || !data.result) {
        throw new Failure('账号或密码错误。');
      }
      session = {login: user, uid: data.result[0], key: data.result[1]};
      sessionStorage.setItem(STORE, JSON.stringify(session));
    });
  }

  function forget() {
    session = null;
    profile = null;
    clearTimeout(pollTimer);
    clearInterval(tickTimer);
    sessionStorage.removeItem(STORE);
  }

  function restore() {
    try {
      session = JSON.parse(sessionStorage.getItem(STORE) || 'null');
    } catch (e) {
      session = null;
    }
  }

  // -- sound -------------------------------------------------------------------

  function unlockAudio() {
    var Context = window.AudioContext || window.webkitAudioContext;
    if (!audio && Context) { audio = new Context(); }
    if (audio && audio.state === 'suspended') {
      audio.resume().catch(function () {});
    }
    document.getElementById('sound').hidden =
      !audio || audio.state === 'running';
  }

  function beep(level) {
    document.body.dataset.alerts =
      String(parseInt(document.body.dataset.alerts, 10) + 1);
    if (!audio) { return; }
    var start = audio.currentTime;
    // More beeps, higher, for a higher level.
    for (var i = 0; i < 1 + (level || 1); i++) {
      var osc = audio.createOscillator();
      var gain = audio.createGain();
      osc.type = 'square';
      osc.frequency.value = 660 + 220 * ((level || 1) - 1);
      gain.gain.value = 0.15;
      osc.connect(gain);
      gain.connect(audio.destination);
      osc.start(start + i * 0.4);
      osc.stop(start + i * 0.4 + 0.25);
    }
  }

  // -- the board ---------------------------------------------------------------

  function poll() {
    clearTimeout(pollTimer);
    if (!session || !profile) { return; }
    var path = 'tickets' + (cursor ? '?since=' + encodeURIComponent(cursor)
      : '');
    var first = !loaded;
    request('GET', path).then(function (data) {
      skew = parse(data.now) - Date.now();
      cursor = data.cursor;
      loaded = true;
      var open = {};
      data.open.forEach(function (pair) { open[pair[0]] = pair[1]; });
      var fresh = [];
      data.tickets.forEach(function (row) {
        if (!tickets[row.id] && !first) { fresh.push(row); }
        tickets[row.id] = row;
      });
      var removed = 0;
      Object.keys(tickets).forEach(function (id) {
        if (!(id in open)) {
          delete tickets[id];
          removed++;
        }
      });
      var ids = data.open.map(function (pair) { return pair[0]; });
      order = ids.filter(function (id) { return tickets[id]; });
      if (order.length < ids.length) {
        // A ticket committed long after its stamp: all again next time.
        cursor = null;
      }
      if (first || data.tickets.length || removed) {
        drawList(fresh);
        drawMarkers();
      }
      if (fresh.length) {
        // When the page drew them (browser epoch ms): what the tests time.
        document.body.dataset.freshAt = String(Date.now());
        beep(Math.max.apply(null, fresh.map(function (r) {
          return r.level; })));
        toast('新的救援工单：' + fresh.map(function (r) {
          return r.number; }).join('、'), true);
      }
      if (selected && !tickets[selected]) {
        selected = null;
        drawDetail();
      } else if (selected && detail &&
          tickets[selected].stamp !== detail.stamp) {
        loadDetail(selected);
      }
      document.body.dataset.polls =
        String(parseInt(document.body.dataset.polls, 10) + 1);
      document.getElementById('status').textContent = '实时';
    }).catch(function (error) {
      document.getElementById('status').textContent =
        error.message || '连接中断';
    }).then(function () {
      if (session && profile) {
        pollTimer = setTimeout(poll, profile.poll_ms || 1000);
      }
    });
  }

  function tick() {
    document.getElementById('clock').textContent =
      '北京时间 ' + beijing.format(new Date(now()));
    order.forEach(function (id) {
      var row = tickets[id];
      var el = document.getElementById('ticket-' + id);
      if (!row || !el) { return; }
      paintClocks(row, el);
    });
  }

  function paintClocks(row, el) {
    var u = urgency(row);
    el.className = el.className.replace(/\bu-\w+/g, '').trim() +
      (u ? ' u-' + u : '');
    var elapsed = el.querySelector('.elapsed');
    var end = row.released_at ? parse(row.released_at) : now();
    elapsed.textContent = '已用 ' + span(end - parse(row.reported_at));
    elapsed.dataset.seconds =
      String(Math.floor((end - parse(row.reported_at)) / 1000));
    var left = el.querySelector('.left');
    left.className = 'left' + (u ? ' u-' + u : '');
    if (row.deadline && row.state !== 'released') {
      var ms = parse(row.deadline) - now();
      left.textContent = (row.deadline_label || '') +
        (ms < 0 ? ' 已超时 ' : ' 剩余 ') + span(ms);
    } else {
      left.textContent = row.state === 'released' ? '待结案' : '';
    }
  }

  function drawList(fresh) {
    var list = document.getElementById('ticket-list');
    if (!list) { return; }
    list.textContent = '';
    document.getElementById('count').textContent =
      '（' + order.length + '）';
    if (!order.length) {
      add(list, h('p', {className: 'muted empty', id: 'no-ticket'},
        '目前没有未结案的救援工单。'));
      return;
    }
    var freshIds = fresh.map(function (r) { return r.id; });
    order.forEach(function (id) {
      var row = tickets[id];
      var el = h('div', {
        id: 'ticket-' + id, 'data-id': id, 'data-level': row.level,
        'data-state': row.state,
        className: 'ticket' + (id === selected ? ' selected' : '') +
          (freshIds.indexOf(id) >= 0 ? ' fresh' : ''),
        onclick: function () { select(id); }},
        h('span', {className: 'level level-' + row.level},
          row.level + '级'),
        h('span', {className: 'number'}, row.number),
        h('span', {className: 'state state-' + row.state},
          row.state_label),
        h('span', {className: 'where'},
          [row.district, row.place, row.building].filter(Boolean)
            .join(' · ') + (row.trapped_persons ?
              '（被困 ' + row.trapped_persons + ' 人）' : '')),
        h('span', {className: 'clocks'},
          h('span', {className: 'elapsed'}),
          h('span', {className: 'left'}),
          h('span', {className: 'muted'}, '报警 ' + local(row.reported_at))));
      paintClocks(row, el);
      add(list, el);
    });
  }

  // -- the map -----------------------------------------------------------------

  var COLOURS = {normal: '#16a34a', warning: '#f59e0b', danger: '#dc2626',
    overdue: '#7f1d1d'};

  function makeMap() {
    map = L.map('map', {zoomControl: true, attributionControl:
      !!profile.tile_url});
    map.setView(profile.center, 12);
    if (profile.tile_url) {
      L.tileLayer(profile.tile_url, {maxZoom: 18,
        attribution: profile.tile_attribution || ''}).addTo(map);
    } else {
      var note = L.control({position: 'bottomleft'});
      note.onAdd = function () {
        return h('div', {className: 'map-note'},
          '未配置底图：仅显示工单位置（WGS-84）');
      };
      note.addTo(map);
    }
  }

  function drawMarkers() {
    if (!map) { return; }
    Object.keys(markers).forEach(function (id) {
      if (!tickets[id] || !tickets[id].position) {
        map.removeLayer(markers[id]);
        delete markers[id];
      }
    });
    var points = [];
    order.forEach(function (id) {
      var row = tickets[id];
      if (!row.position) { return; }
      points.push(row.position);
      var u = urgency(row) || 'normal';
      var style = {radius: 6 + 3 * row.level, color: '#fff', weight: 2,
        fillColor: row.state === 'released' ? '#64748b' : COLOURS[u],
        fillOpacity: 0.9,
        className: 'marker marker-' + id + ' marker-level-' + row.level};
      var marker = markers[id];
      if (!marker) {
        marker = L.circleMarker(row.position, style).addTo(map);
        marker.on('click', function () { select(id); });
        markers[id] = marker;
      } else {
        marker.setLatLng(row.position);
        marker.setStyle(style);
      }
      marker.unbindTooltip();
      // An element, not a string (Leaflet would take it as HTML).
      marker.bindTooltip(h('span', null, row.number + ' ' + (row.place || '')),
        {permanent: id === selected, direction: 'top'});
    });
    if (!fitted && points.length) {
      map.fitBounds(points, {padding: [60, 60], maxZoom: 14});
      fitted = true;
    }
  }

  // -- the selected ticket -----------------------------------------------------

  function select(id) {
    selected = id;
    Array.prototype.forEach.call(document.querySelectorAll('.ticket'),
      function (el) {
        el.classList.toggle('selected', Number(el.dataset.id) === id);
      });
    drawMarkers();
    var row = tickets[id];
    if (map && row && row.position) { map.panTo(row.position); }
    loadDetail(id);
  }

  function loadDetail(id) {
    return request('GET', 'tickets/' + id).then(function (data) {
      if (selected === id) {
        detail = data.ticket;
        drawDetail();
      }
    }, function (error) { toast(error.message); });
  }

  var ACTIONS = {
    dispatch: ['派单', ''],
    escalate: ['升级', 'warn'],
    close: ['结案', 'done']
  };

  function act(action, button) {
    // As the web client's button: escalating asks first.
    if (action === 'escalate' &&
        !window.confirm('立即将该工单升级到下一级？')) {
      return;
    }
    button.disabled = true;
    var id = detail.id;
    request('POST', 'tickets/' + id + '/' + action, {}).then(
      function (data) {
        detail = data.ticket;
        toast(ACTIONS[action][0] + '成功：' + detail.number, true);
        drawDetail();
        poll();
      }, function (error) {
        button.disabled = false;
        toast(error.message);
      });
  }

  function dl(pairs) {
    return h('dl', null, pairs.filter(function (p) {
      return p[1] !== null && p[1] !== undefined && p[1] !== '';
    }).map(function (p) {
      return [h('dt', null, p[0]), h('dd', p[2] ? {id: p[2]} : null,
        String(p[1]))];
    }));
  }

  function drawDetail() {
    var box = document.getElementById('detail-body');
    if (!box) { return; }
    box.textContent = '';
    if (!selected || !detail) {
      add(box, h('p', {className: 'muted'}, '在列表或地图上选择一张工单。'));
      return;
    }
    var d = detail;
    var iot = d.iot;
    add(box,
      h('p', null, h('span', {className: 'level level-' + d.level},
        d.level + '级'), ' ', h('strong', {id: 'detail-number'}, d.number),
        ' ', h('span', {className: 'state state-' + d.state,
          id: 'detail-state'}, d.state_label)),
      h('div', {className: 'actions'}, d.actions.map(function (a) {
        return h('button', {type: 'button', id: 'action-' + a,
          className: ACTIONS[a][1],
          onclick: function (event) { act(a, event.target); }},
          ACTIONS[a][0]);
      })),
      h('h3', null, '电梯与地点'),
      dl([['地点', d.place], ['楼栋', d.building], ['地址', d.address],
        ['区县', d.district], ['注册代码', d.registration_code],
        ['救援码', d.rescue_code], ['维保单位', d.maintenance_unit],
        ['维保电话', d.maintenance_phone]]),
      h('h3', null, '报警'),
      dl([['来源', d.source_label], ['报警时间', local(d.reported_at)],
        ['报警人', d.caller.name, 'caller-name'],
        ['电话', d.caller.phone, 'caller-phone'],
        ['被困人数', d.trapped_persons], ['情况', d.description]]),
      h('h3', null, '物联网实时状态'),
      iot ? dl([['在线', iot.online ? '在线' : '离线'],
        ['楼层', iot.floor], ['轿厢', iot.car_status],
        ['门', iot.door_status], ['乘客', iot.passenger_status],
        ['运行方向', iot.car_direction], ['未处理故障', iot.open_faults]])
        : h('p', {className: 'muted', id: 'no-iot'}, '该电梯无物联网监测数据。'),
      h('h3', null, '派单记录'),
      d.dispatches.length ? h('table', {id: 'dispatch-history'},
        h('tr', null, h('th', null, '级别'), h('th', null, '单位'),
          h('th', null, '派单时间'), h('th', null, '结果')),
        d.dispatches.map(function (x) {
          return h('tr', null, h('td', null, x.level + '级'),
            h('td', null, x.unit), h('td', null, local(x.dispatched_at)),
            h('td', null, x.outcome_label || '等待接单'));
        })) : h('p', {className: 'muted', id: 'no-dispatch'}, '尚未派单。'),
      d.escalations.length ? [h('h3', null, '升级记录'),
        h('table', null, d.escalations.map(function (x) {
          return h('tr', null, h('td', null,
            x.from_level + '级 → ' + x.to_level + '级'),
            h('td', null, x.reason), h('td', null, local(x.escalated_at)));
        }))] : null);
  }

  // -- pages -------------------------------------------------------------------

  function loginPage() {
    document.getElementById('logout').hidden = true;
    document.getElementById('who').textContent = '';
    show(h('form', {id: 'login-form', className: 'card',
      onsubmit: function (event) {
        event.preventDefault();
        unlockAudio();
        var user = document.getElementById('login').value.trim();
        var password = document.getElementById('password').value;
        if (!user || !password) {
          toast('请输入账号和密码。');
          return;
        }
        var button = document.getElementById('login-submit');
        button.disabled = true;
        login(user, password).then(route, function (error) {
          button.disabled = false;
          toast(error.message);
        });
      }},
      h('h2', null, '96196 调度台登录'),
      h('p', {className: 'muted'}, '调度员与消防救援人员请使用平台账号登录。'),
      h('label', {className: 'field'}, h('span', null, '账号'),
        h('input', {id: 'login', type: 'text', autocomplete: 'username',
          required: true})),
      h('label', {className: 'field'}, h('span', null, '密码'),
        h('input', {id: 'password', type: 'password',
          autocomplete: 'current-password', required: true})),
      h('button', {id: 'login-submit', type: 'submit', className: 'primary'},
        '登录')));
  }

  function refusedPage(message) {
    document.getElementById('logout').hidden = false;
    show(h('div', {id: 'refused', className: 'card'},
      h('h2', null, '无法使用调度台'), h('p', null, message)));
  }

  function boardPage() {
    document.getElementById('who').textContent = profile.name;
    document.getElementById('logout').hidden = false;
    show(
      h('section', {id: 'list'},
        h('h2', null, '未结案工单', h('span', {id: 'count'}, '')),
        h('div', {id: 'ticket-list'},
          h('p', {className: 'muted empty'}, '正在加载…'))),
      h('section', {id: 'map'}),
      h('section', {id: 'detail'}, h('h2', null, '工单详情'),
        h('div', {id: 'detail-body', className: 'body'})));
    makeMap();
    drawDetail();
    tickTimer = setInterval(tick, 1000);
    poll();
  }

  function route() {
    clearTimeout(pollTimer);
    clearInterval(tickTimer);
    if (!session) {
      loginPage();
      return;
    }
    request('GET', 'profile').then(function (data) {
      profile = data;
      skew = parse(data.now) - Date.now();
      tickets = {};
      order = [];
      cursor = null;
      loaded = false;
      markers = {};
      fitted = false;
      boardPage();
    }, function (error) {
      if (error.status === 403) {
        refusedPage(error.message);
      } else if (error.status !== 401) {
        show(h('p', {className: 'center'}, error.message));
      }
    });
  }

  document.getElementById('logout').addEventListener('click', function () {
    forget();
    route();
  });
  document.getElementById('sound').addEventListener('click', unlockAudio);
  document.addEventListener('click', function () {
    if (audio && audio.state === 'suspended') { unlockAudio(); }
  });
  restore();
  if (session) {
    // A page opened from the menu has not been tapped: offer the sound.
    var Context = window.AudioContext || window.webkitAudioContext;
    if (Context) { audio = new Context(); }
    document.getElementById('sound').hidden =
      !audio || audio.state === 'running';
  }
  route();
}());
