/* The rescue on the technician's phone (and fire rescue's, level 3).
 *
 * Served under /{db}/elevator/portal/rescue/; logs in like the maintenance
 * portal (the platform account, the same session store, so a technician
 * logged in there is logged in here) and calls the JSON API beside the
 * page with the session in the Authorization header. The server applies
 * the user's rights and record rules and answers in the user's language;
 * times come from it in Putian (Beijing) time. No external resource.
 */
(function () {
  'use strict';

  var DB = decodeURIComponent(location.pathname.split('/')[1] || '');
  var ROOT = '/' + encodeURIComponent(DB);
  var RPC_URL = ROOT + '/rpc/';
  var API = ROOT + '/elevator/portal/rescue/api/';
  var STORE = 'elevator-portal:' + DB;
  var MAX_SIDE = 1600;

  var session = null;
  var profile = null;
  var known = null;       // ids of the dispatches waiting at the last poll
  var pollTimer = null;
  var audio = null;
  var app = document.getElementById('app');
  document.body.dataset.alerts = '0';

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
    window.scrollTo(0, 0);
  }

  function title(text, back) {
    document.getElementById('title').textContent = text;
    document.title = text + ' · 应急救援';
    document.getElementById('back').hidden = !back;
    document.getElementById('logout').hidden = !session;
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

  function busy(button, promise) {
    if (button) { button.disabled = true; }
    return promise.then(function (value) {
      if (button) { button.disabled = false; }
      return value;
    }, function (error) {
      if (button) { button.disabled = false; }
      toast(error.message || String(error));
      throw error;
    });
  }

  function tag(text, kind) {
    return h('span', {className: 'tag' + (kind ? ' ' + kind : '')}, text);
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

  function authorization() {
    return 'Session ' + b64(session.login + ':' + session.uid + ':' +
      session.key);
  }

  function request(method, path, body) {
    var headers = {Authorization: authorization()};
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
      throw new Failure('网络不通，请检查网络后重试。');
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
      if (!response.ok) {
        throw new Failure('账号或密码错误。');
      }
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
    known = null;
    sessionStorage.removeItem(STORE);
  }

  function restore() {
    try {
      session = JSON.parse(sessionStorage.getItem(STORE) || 'null');
    } catch (e) {
      session = null;
    }
  }

  // -- the alert: a sound while the page is open --------------------------------

  function unlockAudio() {
    // Phones play sound only after a tap: the login or any tap unlocks it.
    var Context = window.AudioContext || window.webkitAudioContext;
    if (!audio && Context) {
      audio = new Context();
    }
    if (audio && audio.state === 'suspended') {
      audio.resume().catch(function () {});
    }
  }

  function alarm() {
    document.body.dataset.alerts =
      String(parseInt(document.body.dataset.alerts, 10) + 1);
    if (navigator.vibrate) { navigator.vibrate([300, 150, 300]); }
    if (!audio) { return; }
    var now = audio.currentTime;
    [0, 0.45, 0.9].forEach(function (offset) {
      var osc = audio.createOscillator();
      var gain = audio.createGain();
      osc.type = 'square';
      osc.frequency.value = 880;
      gain.gain.value = 0.2;
      osc.connect(gain);
      gain.connect(audio.destination);
      osc.start(now + offset);
      osc.stop(now + offset + 0.3);
    });
  }

  function poll() {
    clearTimeout(pollTimer);
    if (!session) { return; }
    request('GET', 'dispatches').then(function (data) {
      var waiting = data.dispatches.filter(function (d) {
        return d.actions.indexOf('accept') >= 0;
      }).map(function (d) { return d.id; });
      var fresh = known === null ? [] : waiting.filter(function (id) {
        return known.indexOf(id) < 0;
      });
      var first = known === null;
      known = waiting;
      if (fresh.length || (first && waiting.length)) {
        alarm();
        toast('新的救援任务，请立即接单！');
      }
      if (current().name === 'home') {
        drawList(data.dispatches, fresh);
      }
    }).catch(function () {}).then(function () {
      if (session) {
        pollTimer = setTimeout(poll,
          ((profile && profile.poll_seconds) || 5) * 1000);
      }
    });
  }

  // -- pages -------------------------------------------------------------------

  function loginPage() {
    title('应急救援登录');
    var form = h('form', {id: 'login-form', className: 'card',
      onsubmit: function (event) {
        event.preventDefault();
        unlockAudio();
        var user = document.getElementById('login').value.trim();
        var password = document.getElementById('password').value;
        if (!user || !password) {
          toast('请输入账号和密码。');
          return;
        }
        busy(document.getElementById('login-submit'),
          login(user, password)).then(home, function () {});
      }},
      h('h2', null, '96196 电梯应急救援'),
      h('p', {className: 'muted'}, '维保人员与消防救援人员请使用平台账号登录。'),
      h('label', {className: 'field'}, h('span', null, '账号'),
        h('input', {id: 'login', type: 'text', autocomplete: 'username',
          autocapitalize: 'none', required: true})),
      h('label', {className: 'field'}, h('span', null, '密码'),
        h('input', {id: 'password', type: 'password',
          autocomplete: 'current-password', required: true})),
      h('button', {id: 'login-submit', type: 'submit', className: 'primary'},
        '登录'));
    show(form);
  }

  function elevatorLine(d) {
    var e = d.elevator;
    return [e.place, e.building].filter(Boolean).join(' ') ||
      e.registration_code;
  }

  function stateTag(d) {
    if (d.actions.indexOf('accept') >= 0) {
      return tag('待接单', 'bad');
    }
    return tag(d.ticket_state_label,
      d.ticket_state === 'released' ? 'good' : null);
  }

  var list = null;

  function homePage() {
    title('应急救援');
    list = h('div', {id: 'dispatch-list'},
      h('p', {className: 'muted'}, '正在加载…'));
    show(
      h('section', {className: 'card'},
        h('h2', {id: 'who'}, profile.name),
        h('p', {className: 'muted'}, profile.units.join('、') ||
          '未关联救援单位'),
        h('p', {className: 'muted', id: 'poll'},
          '页面打开期间每 ' + profile.poll_seconds +
          ' 秒刷新，有新任务时响铃提醒。')),
      h('section', {className: 'card'}, h('h2', null, '救援任务'), list));
    poll();
  }

  function drawList(dispatches, fresh) {
    if (!list || !document.body.contains(list)) { return; }
    list.textContent = '';
    if (!dispatches.length) {
      add(list, h('p', {className: 'muted', id: 'no-dispatch'},
        '目前没有救援任务。'));
      return;
    }
    dispatches.forEach(function (d) {
      add(list, h('a', {href: '#/d/' + d.id, 'data-dispatch': d.id,
        className: 'dispatch' + (fresh.indexOf(d.id) >= 0 ||
          d.actions.indexOf('accept') >= 0 ? ' new' : '')},
        h('div', null, h('span', {className: 'code'}, elevatorLine(d)),
          stateTag(d)),
        h('div', {className: 'muted'}, d.ticket + ' · ' + d.level + ' 级 · ' +
          d.dispatched_at),
        h('div', {className: 'muted'}, d.elevator.address || '')));
    });
  }

  function info(rows) {
    var dl = h('dl', {className: 'info'});
    rows.forEach(function (row) {
      if (row[1] === null || row[1] === undefined || row[1] === '') {
        return;
      }
      add(dl, [h('dt', null, row[0]), h('dd', null, String(row[1]))]);
    });
    return dl;
  }

  function position() {
    return new Promise(function (resolve) {
      if (!navigator.geolocation) {
        resolve(null);
        return;
      }
      navigator.geolocation.getCurrentPosition(function (pos) {
        // The browser's geolocation is WGS-84 (WeChat's and AMap's SDKs
        // give GCJ-02 and say so with crs: 'gcj02').
        resolve({latitude: pos.coords.latitude,
          longitude: pos.coords.longitude,
          accuracy: pos.coords.accuracy, crs: 'wgs84'});
      }, function () {
        toast('未能获取定位，到达记录将标注“无定位”。');
        resolve(null);
      }, {enableHighAccuracy: true, timeout: 15000, maximumAge: 0});
    });
  }

  function loadImage(file) {
    return new Promise(function (resolve, reject) {
      var url = URL.createObjectURL(file);
      var img = new Image();
      img.onload = function () { resolve({img: img, url: url}); };
      img.onerror = function () {
        URL.revokeObjectURL(url);
        reject(new Failure('无法读取这张图片。'));
      };
      img.src = url;
    });
  }

  function photoData(file) {
    // Phones take 4000 px photos: send at most 1600 px, JPEG.
    return loadImage(file).then(function (loaded) {
      var img = loaded.img;
      var scale = Math.min(1, MAX_SIDE / Math.max(img.naturalWidth,
        img.naturalHeight));
      var canvas = document.createElement('canvas');
      canvas.width = Math.max(1, Math.round(img.naturalWidth * scale));
      canvas.height = Math.max(1, Math.round(img.naturalHeight * scale));
      var ctx = canvas.getContext('2d');
      ctx.fillStyle = '#fff';
      ctx.fillRect(0, 0, canvas.width, canvas.height);
      ctx.drawImage(img, 0, 0, canvas.width, canvas.height);
      URL.revokeObjectURL(loaded.url);
      return canvas.toDataURL('image/jpeg', 0.82).split(',', 2)[1];
    });
  }

  function stamp() {
    var d = new Date();
    var p = function (n) { return (n < 10 ? '0' : '') + n; };
    return d.getFullYear() + p(d.getMonth() + 1) + p(d.getDate()) + '-' +
      p(d.getHours()) + p(d.getMinutes()) + p(d.getSeconds());
  }

  function dispatchPage(id) {
    title('救援任务', true);
    var reload = function () { dispatchPage(id); };
    request('GET', 'dispatches/' + id).then(function (data) {
      drawDispatch(data.dispatch, reload);
    }, function (error) {
      show(h('section', {className: 'card', id: 'not-found'},
        h('p', null, error.message)));
      toast(error.message);
    });
  }

  function step(d, action, body, button, reload) {
    return busy(button, request('POST', 'dispatches/' + d.id + '/' + action,
      body || {})).then(function (data) {
        drawDispatch(data.dispatch, reload);
        return data;
      });
  }

  function drawDispatch(d, reload) {
    var e = d.elevator;
    title('救援 · ' + d.ticket_state_label, true);
    var parts = [];
    parts.push(h('section', {className: 'card', id: 'dispatch',
      'data-dispatch': d.id},
      h('h2', null, elevatorLine(d), stateTag(d)),
      d.trapped_persons ? h('p', {className: 'big'},
        '被困 ' + d.trapped_persons + ' 人') : null,
      info([
        ['工单', d.ticket], ['级别', d.level + ' 级（' + d.kind + '）'],
        ['救援码', e.rescue_code], ['注册代码', e.registration_code],
        ['地址', e.address], ['情况', d.description],
        ['派单时间', d.dispatched_at], ['接单时限', d.outcome ? null :
          d.accept_deadline],
        ['到达时限', d.outcome === 'accepted' && !d.arrived_at ?
          d.arrive_deadline : null],
        ['接单人', d.accepted_by ? d.accepted_by + ' · ' + d.accepted_at :
          null],
        ['到达时间', d.arrived_at],
        ['到达距离', d.arrival_distance === null ? null :
          d.arrival_distance + ' 米'],
        ['解困时间', d.released_at], ['维修单', d.repair_order]
      ]),
      d.arrival_warning ? h('p', {className: 'warning', id: 'arrival-warning'},
        d.arrival_warning_label) : null));

    if (d.map) {
      parts.push(h('section', {className: 'card'}, h('h2', null, '导航'),
        h('div', {className: 'maps'},
          h('a', {id: 'nav-geo', className: 'button', href: d.map.geo},
            '地图导航'),
          h('a', {id: 'nav-amap', className: 'button', href: d.map.amap,
            target: '_blank', rel: 'noopener noreferrer'}, '高德地图'))));
    }

    var actions = h('section', {className: 'card', id: 'actions'});
    if (d.actions.indexOf('accept') >= 0) {
      add(actions,
        h('button', {id: 'accept', type: 'button', className: 'primary',
          onclick: function (ev) {
            step(d, 'accept', {}, ev.currentTarget, reload).then(function () {
              toast('已接单，请尽快赶往现场。', true);
            }, function () {});
          }}, '接单'),
        h('button', {id: 'decline', type: 'button', className: 'danger',
          onclick: function (ev) {
            if (!window.confirm('确定无法前往？任务将转派其他单位。')) {
              return;
            }
            step(d, 'decline', {}, ev.currentTarget, reload)
              .catch(function () {});
          }}, '无法前往'));
    }
    if (d.actions.indexOf('arrive') >= 0) {
      add(actions, h('button', {id: 'arrive', type: 'button',
        className: 'primary', onclick: function (ev) {
          var button = ev.currentTarget;
          button.disabled = true;
          position().then(function (pos) {
            return step(d, 'arrive', {position: pos}, button, reload);
          }).then(function (data) {
            var w = data.dispatch.arrival_warning;
            toast(w ? data.dispatch.arrival_warning_label : '已记录到达。', !w);
          }, function () {});
        }}, '到达现场（记录定位）'));
    }
    if (d.actions.indexOf('release') >= 0) {
      var released = h('input', {id: 'released', type: 'number', min: '0',
        inputmode: 'numeric'});
      released.value = d.trapped_persons || '';
      var injuries = h('input', {id: 'injuries', type: 'number', min: '0',
        inputmode: 'numeric'});
      injuries.value = '0';
      var cause = h('select', {id: 'cause'},
        h('option', {value: ''}, '请选择'));
      profile.causes.forEach(function (c) {
        add(cause, h('option', {value: c[0]}, c[1]));
      });
      var notes = h('textarea', {id: 'notes', placeholder: '现场情况（选填）',
        maxlength: '2000'});
      add(actions, h('h3', null, '解困记录'),
        h('div', {className: 'grid2'},
          h('label', {className: 'field'}, h('span', null, '解困人数'),
            released),
          h('label', {className: 'field'}, h('span', null, '受伤人数'),
            injuries)),
        h('label', {className: 'field'}, h('span', null, '困人原因'), cause),
        notes,
        h('button', {id: 'release', type: 'button', className: 'primary',
          onclick: function (ev) {
            var r = parseInt(released.value, 10);
            var i = parseInt(injuries.value, 10);
            step(d, 'release', {
              released_persons: isNaN(r) ? null : r,
              injuries: isNaN(i) ? null : i,
              cause: cause.value || null,
              notes: notes.value.trim() || null
            }, ev.currentTarget, reload).then(function () {
              toast('已记录解困。', true);
            }, function () {});
          }}, '确认已解困'));
    }
    if (d.actions.indexOf('photo') >= 0) {
      var input = h('input', {id: 'photo-input', className: 'file',
        type: 'file', accept: 'image/*', capture: 'environment',
        multiple: true, onchange: function () {
          var files = Array.prototype.slice.call(input.files);
          var chain = Promise.resolve(null);
          files.forEach(function (file, index) {
            chain = chain.then(function () {
              return photoData(file);
            }).then(function (data) {
              return request('POST', 'dispatches/' + d.id + '/photos', {
                name: '救援照片-' + stamp() + '-' + (index + 1) + '.jpg',
                data: data
              });
            });
          });
          busy(null, chain).then(function (result) {
            toast('已上传 ' + files.length + ' 张照片。', true);
            if (result) { drawDispatch(result.dispatch, reload); }
          }, function () {});
          input.value = '';
        }});
      add(actions, h('h3', {id: 'photo-count'}, '现场照片（' + d.photos + '）'),
        input, h('label', {className: 'button', 'for': 'photo-input'},
          '拍照上传'));
    }
    if (d.actions.indexOf('repair') >= 0) {
      add(actions, h('button', {id: 'repair', type: 'button',
        className: 'secondary', onclick: function (ev) {
          step(d, 'repair', {}, ev.currentTarget, reload).then(function () {
            toast('已提交维修需求。', true);
          }, function () {});
        }}, '需要后续维修'));
    }
    if (actions.childNodes.length) {
      parts.push(actions);
    }
    show(parts);
  }

  // -- routing -------------------------------------------------------------------

  function current() {
    var hash = location.hash.replace(/^#\/?/, '');
    var m = /^d\/(\d+)$/.exec(hash);
    if (m) { return {name: 'dispatch', id: parseInt(m[1], 10)}; }
    return {name: 'home'};
  }

  function home() {
    // Setting the hash runs route() unless it is already there.
    if (location.hash === '#/' || location.hash === '') {
      route();
    } else {
      location.hash = '#/';
    }
  }

  function route() {
    if (!session) {
      clearTimeout(pollTimer);
      loginPage();
      return;
    }
    var load = profile ? Promise.resolve(profile) :
      request('GET', 'profile').then(function (p) { profile = p; return p; });
    load.then(function () {
      var page = current();
      if (page.name === 'dispatch') {
        dispatchPage(page.id);
        if (!pollTimer) { poll(); }
      } else {
        homePage();
      }
    }, function (error) {
      if (!session) { return; }
      show(h('section', {className: 'card'}, h('p', null, error.message)));
    });
  }

  document.getElementById('back').addEventListener('click', function () {
    location.hash = '#/';
  });
  document.getElementById('logout').addEventListener('click', function () {
    if (session) {
      fetch(RPC_URL, {method: 'POST', credentials: 'omit',
        headers: {'Content-Type': 'application/json',
          Authorization: authorization()},
        body: JSON.stringify({id: 2, method: 'common.db.logout', params: []})
      }).catch(function () {});
    }
    forget();
    home();
  });
  document.addEventListener('click', unlockAudio);
  window.addEventListener('hashchange', route);
  restore();
  route();
}());
