/* H5 page of the maintenance technicians and of the user units.
 *
 * Served under /{db}/elevator/portal/; logs in with the user's platform
 * account and calls the JSON-RPC of the database (/{db}/rpc/) with the
 * user's own session: the platform's access rights and record rules apply
 * to everything shown or done here. No external resource is loaded.
 */
(function () {
  'use strict';

  var DB = decodeURIComponent(location.pathname.split('/')[1] || '');
  var RPC_URL = '/' + encodeURIComponent(DB) + '/rpc/';
  var STORE = 'elevator-portal:' + DB;

  var TYPES = {
    half_monthly: '半月维保', quarterly: '季度维保',
    half_yearly: '半年维保', yearly: '年度维保'
  };
  var STATES = {
    planned: '待维保', in_progress: '维保中', done: '待确认',
    confirmed: '已确认', disputed: '有异议'
  };
  var REPAIR_STATES = {
    open: '待维修', in_progress: '维修中', done: '待确认',
    confirmed: '已确认', disputed: '有异议', cancelled: '已取消'
  };
  var SOURCES = {
    fault: '故障报修', iot: '物联网报警', complaint: '投诉', rescue: '救援',
    other: '其他'
  };
  var RESULTS = [
    ['normal', '正常'], ['adjusted', '调整'], ['replaced', '更换'],
    ['not_applicable', '不适用'], ['abnormal', '异常']
  ];
  var MAX_SIDE = 1600;

  var session = null;
  var context = {};
  var profile = null;
  var seq = 0;
  var app = document.getElementById('app');

  // -- small DOM helpers (text only: nothing from the server is HTML) ------

  function h(tag, attrs) {
    var el = document.createElement(tag);
    var children = Array.prototype.slice.call(arguments, 2);
    Object.keys(attrs || {}).forEach(function (key) {
      var value = attrs[key];
      if (value === null || value === undefined || value === false) {
        return;
      }
      if (key.slice(0, 2) === 'on') {
        el.addEventListener(key.slice(2), value);
      } else if (key === 'className') {
        el.className = value;
      } else if (key === 'text') {
        el.textContent = value;
      } else if (value === true) {
        el.setAttribute(key, '');
      } else {
        el.setAttribute(key, value);
      }
    });
    children.forEach(function (child) { add(el, child); });
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
    document.title = text + ' · 电梯维保';
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

  function pad(n) { return (n < 10 ? '0' : '') + n; }

  function formatTime(value) {
    if (!value) { return '—'; }
    var d = new Date(value);
    return d.getFullYear() + '-' + pad(d.getMonth() + 1) + '-' +
      pad(d.getDate()) + ' ' + pad(d.getHours()) + ':' + pad(d.getMinutes());
  }

  function tag(text, kind) {
    return h('span', {className: 'tag' + (kind ? ' ' + kind : '')}, text);
  }

  // -- JSON-RPC -------------------------------------------------------------

  function RpcError(message, expired) {
    this.message = message;
    this.expired = !!expired;
  }
  RpcError.prototype = Object.create(Error.prototype);

  function revive(key, value) {
    if (value && typeof value === 'object' && value.__class__) {
      switch (value.__class__) {
        case 'date':
          return value.year + '-' + pad(value.month) + '-' + pad(value.day);
        case 'datetime':
          return new Date(Date.UTC(value.year, value.month - 1, value.day,
            value.hour || 0, value.minute || 0, value.second || 0))
            .toISOString();
        case 'Decimal':
          return Number(value.decimal);
        case 'bytes':
          return value.base64;
        case 'timedelta':
          return value.seconds;
      }
    }
    return value;
  }

  function dateValue(date) {
    return {
      __class__: 'date', year: date.getFullYear(),
      month: date.getMonth() + 1, day: date.getDate()
    };
  }

  function b64(text) {
    return btoa(unescape(encodeURIComponent(text)));
  }

  function errorMessage(error) {
    if (Array.isArray(error)) {
      if (Array.isArray(error[1]) &&
          (error[0] === 'UserError' || error[0] === 'UserWarning')) {
        var args = error[1];
        var message = error[0] === 'UserWarning' ? args[1] : args[0];
        var description = error[0] === 'UserWarning' ? args[2] : args[1];
        return message + (description ? '\n' + description : '');
      }
      if (error[0] === 'ConcurrencyException') {
        return '记录已被他人修改，请刷新后重试。';
      }
      return '服务器错误：' + String(error[0]).slice(0, 200);
    }
    return String(error);
  }

  function rpc(method, params) {
    var headers = {'Content-Type': 'application/json'};
    if (session && method !== 'common.db.login') {
      headers.Authorization = 'Session ' +
        b64(session.login + ':' + session.uid + ':' + session.key);
    }
    var body = JSON.stringify({id: ++seq, method: method, params: params});
    return fetch(RPC_URL, {
      method: 'POST', headers: headers, body: body, credentials: 'omit',
      cache: 'no-store'
    }).then(function (response) {
      if (response.status === 401 || response.status === 403) {
        if (method === 'common.db.login') {
          throw new RpcError('账号或密码错误。');
        }
        forget();
        throw new RpcError('登录已过期，请重新登录。', true);
      }
      if (response.status === 429) {
        throw new RpcError('尝试次数过多，请稍后再试。');
      }
      if (response.status === 413) {
        throw new RpcError('上传的内容太大。');
      }
      if (!response.ok) {
        throw new RpcError('服务器错误（' + response.status + '），请稍后再试。');
      }
      return response.text();
    }, function () {
      throw new RpcError('网络不通，请检查网络后重试。');
    }).then(function (text) {
      var data = JSON.parse(text, revive);
      if (data.error) {
        throw new RpcError(errorMessage(data.error));
      }
      return data.result;
    });
  }

  function call(model, method, args) {
    return rpc('model.' + model + '.' + method,
      (args || []).concat([context]));
  }

  var ORDER = 'elevator.maintenance.order';
  var REPAIR = 'elevator.repair.order';

  // -- session --------------------------------------------------------------

  function remember() {
    sessionStorage.setItem(STORE, JSON.stringify(session));
  }

  function forget() {
    session = null;
    profile = null;
    sessionStorage.removeItem(STORE);
  }

  function restore() {
    try {
      session = JSON.parse(sessionStorage.getItem(STORE) || 'null');
    } catch (e) {
      session = null;
    }
  }

  function loadProfile() {
    return rpc('model.res.user.get_preferences', [true, {}])
      .then(function (preferences) {
        context = preferences || {};
        return call(ORDER, 'portal_profile', []);
      }).then(function (result) {
        profile = result;
        return profile;
      });
  }

  function isRole(role) {
    return profile && profile.roles.indexOf(role) >= 0;
  }

  function doLogin(event) {
    event.preventDefault();
    var login = document.getElementById('login').value.trim();
    var password = document.getElementById('password').value;
    if (!login || !password) {
      toast('请输入账号和密码。');
      return;
    }
    var button = document.getElementById('login-submit');
    busy(button, rpc('common.db.login',
      [login, {password: password}, 'zh_CN']).then(function (result) {
        session = {login: login, uid: result[0], key: result[1]};
        remember();
        return loadProfile();
      })).then(function () {
        location.hash = '#/';
        route();
      }, function () {});
  }

  function logout() {
    if (session) {
      rpc('common.db.logout', []).catch(function () {});
    }
    forget();
    location.hash = '#/';
    route();
  }

  function loginPage() {
    title('电梯维保登录');
    show(h('form', {id: 'login-form', className: 'card', onsubmit: doLogin},
      h('h2', null, '莆田市电梯安全智慧监管平台'),
      h('p', {className: 'muted'},
        '维保人员与使用单位请使用平台账号登录。'),
      h('label', {className: 'field'}, h('span', null, '账号'),
        h('input', {id: 'login', type: 'text', autocomplete: 'username',
          autocapitalize: 'none', required: true})),
      h('label', {className: 'field'}, h('span', null, '密码'),
        h('input', {id: 'password', type: 'password',
          autocomplete: 'current-password', required: true})),
      h('button', {id: 'login-submit', type: 'submit', className: 'primary'},
        '登录')));
  }

  // -- positions, images, QR codes ------------------------------------------

  function position() {
    return new Promise(function (resolve) {
      if (!navigator.geolocation) {
        resolve({});
        return;
      }
      navigator.geolocation.getCurrentPosition(function (pos) {
        resolve({
          latitude: pos.coords.latitude, longitude: pos.coords.longitude
        });
      }, function () {
        toast('未能获取定位，将不记录位置。');
        resolve({});
      }, {enableHighAccuracy: true, timeout: 15000, maximumAge: 60000});
    });
  }

  function loadImage(file) {
    return new Promise(function (resolve, reject) {
      var url = URL.createObjectURL(file);
      var img = new Image();
      img.onload = function () { resolve({img: img, url: url}); };
      img.onerror = function () {
        URL.revokeObjectURL(url);
        reject(new RpcError('无法读取这张图片。'));
      };
      img.src = url;
    });
  }

  function canvasOf(img, maxSide) {
    var scale = Math.min(1, maxSide / Math.max(img.naturalWidth,
      img.naturalHeight));
    var canvas = document.createElement('canvas');
    canvas.width = Math.max(1, Math.round(img.naturalWidth * scale));
    canvas.height = Math.max(1, Math.round(img.naturalHeight * scale));
    var ctx = canvas.getContext('2d');
    ctx.fillStyle = '#fff';
    ctx.fillRect(0, 0, canvas.width, canvas.height);
    ctx.drawImage(img, 0, 0, canvas.width, canvas.height);
    return canvas;
  }

  function decodeQr(file) {
    var detect = Promise.resolve(null);
    if ('BarcodeDetector' in window) {
      detect = createImageBitmap(file).then(function (bitmap) {
        return new window.BarcodeDetector({formats: ['qr_code']})
          .detect(bitmap);
      }).then(function (codes) {
        return codes.length ? codes[0].rawValue : null;
      }).catch(function () { return null; });
    }
    return detect.then(function (value) {
      if (value) { return value; }
      return loadImage(file).then(function (loaded) {
        URL.revokeObjectURL(loaded.url);
        var sides = [1000, 600, 1600];
        for (var i = 0; i < sides.length; i++) {
          var canvas = canvasOf(loaded.img, sides[i]);
          var data = canvas.getContext('2d').getImageData(
            0, 0, canvas.width, canvas.height);
          var code = window.jsQR(data.data, data.width, data.height,
            {inversionAttempts: 'attemptBoth'});
          if (code && code.data) { return code.data; }
        }
        throw new RpcError('没有识别出二维码，请靠近后重拍，或手动输入救援码。');
      });
    });
  }

  function blobToBase64(blob) {
    return new Promise(function (resolve, reject) {
      var reader = new FileReader();
      reader.onload = function () {
        resolve(String(reader.result).split(',', 2)[1] || '');
      };
      reader.onerror = function () { reject(new RpcError('无法读取文件。')); };
      reader.readAsDataURL(blob);
    });
  }

  function photoBlob(file) {
    // Phones take 4000 px photos: send them at most 1600 px wide, JPEG.
    return loadImage(file).then(function (loaded) {
      var canvas = canvasOf(loaded.img, MAX_SIDE);
      URL.revokeObjectURL(loaded.url);
      return new Promise(function (resolve) {
        canvas.toBlob(function (blob) { resolve(blob || file); },
          'image/jpeg', 0.82);
      });
    }, function () { return file; });
  }

  function uploadPhotos(model, id, files, done) {
    var limit = profile.photo_max_size;
    var chain = Promise.resolve(0);
    Array.prototype.forEach.call(files, function (file, index) {
      chain = chain.then(function (count) {
        return photoBlob(file).then(function (blob) {
          if (blob.size > limit) {
            throw new RpcError('照片“' + file.name + '”有 ' +
              Math.round(blob.size / 1024) + ' KB，超过 ' +
              Math.round(limit / 1024) + ' KB 的上限。');
          }
          return blobToBase64(blob);
        }).then(function (data) {
          var stamp = new Date();
          var name = '现场照片-' + stamp.getFullYear() +
            pad(stamp.getMonth() + 1) + pad(stamp.getDate()) + '-' +
            pad(stamp.getHours()) + pad(stamp.getMinutes()) +
            pad(stamp.getSeconds()) + '-' + (index + 1) + '.jpg';
          return call('ir.attachment', 'create', [[{
            name: name, type: 'data', resource: model + ',' + id,
            data: {__class__: 'bytes', base64: data}
          }]]);
        }).then(function () { return count + 1; });
      });
    });
    return chain.then(function (count) {
      toast('已上传 ' + count + ' 张照片。', true);
      done();
    });
  }

  function photoThumbs(photos) {
    var box = h('div', {className: 'photos', id: 'photos'});
    if (!photos.length) {
      add(box, h('span', {className: 'muted'}, '尚无照片'));
      return box;
    }
    photos.forEach(function (photo) {
      var img = h('img', {alt: photo.name, 'data-photo': photo.id});
      add(box, img);
    });
    call('ir.attachment', 'read', [photos.map(function (p) {
      return p.id;
    }), ['data']]).then(function (rows) {
      rows.forEach(function (row) {
        var img = box.querySelector('img[data-photo="' + row.id + '"]');
        if (img && row.data) {
          img.src = 'data:image/jpeg;base64,' + row.data;
        }
      });
    }).catch(function () {});
    return box;
  }

  function photoPicker(model, id, reload) {
    var input = h('input', {
      id: 'photo-input', className: 'file', type: 'file',
      accept: 'image/*', capture: 'environment', multiple: true,
      onchange: function () {
        if (!input.files.length) { return; }
        var files = Array.prototype.slice.call(input.files);
        busy(null, uploadPhotos(model, id, files, reload))
          .catch(function () {});
      }
    });
    return h('div', null, input,
      h('label', {className: 'button', 'for': 'photo-input'}, '拍照上传'));
  }

  // -- technician ---------------------------------------------------------

  function techHome() {
    title('电梯维保');
    var today = new Date();
    // The visits of the current half-monthly cycle.
    var soon = new Date(today.getTime() + 15 * 86400000);
    var scan = h('input', {
      id: 'scan-input', className: 'file', type: 'file', accept: 'image/*',
      capture: 'environment',
      onchange: function () {
        if (!scan.files.length) { return; }
        busy(null, decodeQr(scan.files[0])).then(function (code) {
          openCode(code);
        }, function () {});
        scan.value = '';
      }
    });
    var code = h('input', {id: 'code', type: 'text', inputmode: 'numeric',
      placeholder: '救援识别码或注册代码', maxlength: '64'});
    var orders = h('ul', {className: 'list', id: 'order-list'},
      h('li', {className: 'muted'}, '正在加载…'));
    var repairs = h('ul', {className: 'list', id: 'repair-list'},
      h('li', {className: 'muted'}, '正在加载…'));
    show(
      h('section', {className: 'card'},
        h('h2', null, profile.name),
        h('p', {className: 'muted'}, profile.units.map(function (u) {
          return u.name;
        }).join('、') || '未关联维保单位'),
        profile.technicians.length ? null : h('p', {className: 'tag warn'},
          '您尚未登记为维保人员，请联系本单位管理员。'),
        // The 96196 rescue dispatches of the firm: a page of its own.
        h('a', {id: 'rescue-link', className: 'button', href: 'rescue/'},
          '应急救援任务')),
      h('section', {className: 'card'},
        h('h2', null, '到达电梯'),
        scan,
        h('label', {className: 'button', 'for': 'scan-input', id: 'scan'},
          '扫描轿厢内二维码'),
        h('form', {className: 'row', onsubmit: function (event) {
          event.preventDefault();
          openCode(code.value);
        }}, code, h('button', {id: 'find', type: 'submit',
          className: 'secondary'}, '查找'))),
      h('section', {className: 'card'}, h('h2', null, '待办维保'), orders),
      h('section', {className: 'card'}, h('h2', null, '待办维修'), repairs));

    call(ORDER, 'search_read', [
      ['OR', ['state', 'in', ['in_progress', 'disputed']],
        [['state', '=', 'planned'],
          ['planned_date', '<=', dateValue(soon)]]],
      0, 50, [['planned_date', 'ASC'], ['id', 'ASC']],
      ['number', 'planned_date', 'type', 'state', 'elevator.rec_name',
        'elevator.registration_code', 'elevator.building',
        'elevator.place.rec_name']
    ]).then(function (rows) {
      orders.textContent = '';
      if (!rows.length) {
        add(orders, h('li', {className: 'muted'}, '近期没有待办维保。'));
      }
      var todayText = today.getFullYear() + '-' + pad(today.getMonth() + 1) +
        '-' + pad(today.getDate());
      rows.forEach(function (row) {
        var elevator = row['elevator.'] || {};
        var href = row.state === 'planned' ?
          '#/elevator/' + encodeURIComponent(elevator.registration_code) :
          '#/order/' + row.id;
        add(orders, h('li', null, h('a', {href: href,
          'data-order': row.id},
          h('div', null, elevatorLabel(elevator),
            tag(STATES[row.state] || row.state,
              row.state === 'disputed' ? 'bad' : null)),
          h('div', {className: 'muted'}, TYPES[row.type] + ' · 最迟 ' +
            row.planned_date,
            row.state === 'planned' && row.planned_date < todayText ?
              tag('已逾期', 'bad') : null))));
      });
    }).catch(function (error) { toast(error.message); });

    call(REPAIR, 'search_read', [
      [['state', 'in', ['open', 'in_progress', 'disputed']]],
      0, 30, [['reported_at', 'ASC'], ['id', 'ASC']],
      ['number', 'state', 'source', 'urgent', 'description',
        'elevator.rec_name', 'elevator.building', 'elevator.place.rec_name',
        'reported_at']
    ]).then(function (rows) {
      repairs.textContent = '';
      if (!rows.length) {
        add(repairs, h('li', {className: 'muted'}, '没有待办维修。'));
      }
      rows.forEach(function (row) {
        add(repairs, h('li', null, h('a', {href: '#/repair/' + row.id},
          h('div', null, elevatorLabel(row['elevator.'] || {}),
            tag(REPAIR_STATES[row.state] || row.state),
            row.urgent ? tag('紧急', 'bad') : null),
          h('div', {className: 'muted'}, (SOURCES[row.source] || '') + ' · ' +
            formatTime(row.reported_at) + ' · ' +
            String(row.description || '').slice(0, 40)))));
      });
    }).catch(function (error) { toast(error.message); });
  }

  function elevatorLabel(elevator) {
    var place = (elevator['place.'] || {}).rec_name;
    return [place, elevator.building, elevator.rec_name].filter(Boolean)
      .join(' ');
  }

  function openCode(value) {
    value = String(value || '').trim();
    if (!value) {
      toast('请扫描二维码或输入电梯编码。');
      return;
    }
    location.hash = '#/elevator/' + encodeURIComponent(value);
  }

  function companionsPicker(firmName) {
    var box = h('div', {id: 'companions'},
      h('p', {className: 'muted'}, '同行维保人员（每次维保至少两人，至少一人持证）：'));
    var mine = profile.technicians.map(function (t) { return t.id; });
    call('elevator.maintenance.technician', 'search_read', [
      [['id', 'not in', mine]], 0, 100, [['name', 'ASC']],
      ['name', 'certified', 'firm.rec_name']
    ]).then(function (rows) {
      if (!rows.length) {
        add(box, h('p', {className: 'muted'}, '本单位没有其他维保人员。'));
      }
      rows.forEach(function (row) {
        add(box, h('label', {className: 'check'},
          h('input', {type: 'checkbox', value: String(row.id),
            'data-technician': row.id}),
          h('span', null, row.name, row.certified ? tag('持证', 'good') : null)));
      });
    }).catch(function (error) { toast(error.message); });
    return box;
  }

  function chosenCompanions() {
    return Array.prototype.map.call(
      document.querySelectorAll('#companions input:checked'),
      function (input) { return parseInt(input.value, 10); });
  }

  function elevatorCard(elevator) {
    return h('section', {className: 'card', id: 'elevator'},
      h('h2', null, (elevator.place || '') + ' ' + (elevator.building || '')),
      h('dl', {className: 'info'},
        h('dt', null, '救援码'), h('dd', null, elevator.rescue_code || '—'),
        h('dt', null, '注册代码'), h('dd', null, elevator.registration_code),
        h('dt', null, '地址'), h('dd', null, elevator.address || '—'),
        h('dt', null, '维保单位'),
        h('dd', null, elevator.maintenance_unit || '—'),
        h('dt', null, '使用单位'), h('dd', null, elevator.user_unit || '—')));
  }

  function elevatorPage(code) {
    title('电梯', true);
    show(h('p', {className: 'muted center'}, '正在查找电梯…'));
    call(ORDER, 'portal_elevator', [code]).then(function (data) {
      var next = data.orders[0];
      var current = data.orders.filter(function (o) {
        return o.state !== 'planned';
      })[0];
      var actions = h('section', {className: 'card'});
      if (current) {
        add(actions, h('h2', null, TYPES[current.type] + ' · ' +
          STATES[current.state]),
          h('button', {id: 'continue', className: 'primary', type: 'button',
            onclick: function () {
              location.hash = '#/order/' + current.id;
            }}, '继续填写维保记录'));
      } else if (next) {
        var button = h('button', {id: 'check-in', className: 'primary',
          type: 'button'}, '签到，开始维保');
        button.addEventListener('click', function () {
          busy(button, position().then(function (pos) {
            pos.technicians = chosenCompanions();
            return call(ORDER, 'start_visit', [[next.id], pos]);
          })).then(function () {
            toast('已签到。', true);
            location.hash = '#/order/' + next.id;
          }, function () {});
        });
        add(actions,
          h('h2', null, TYPES[next.type] + ' · 最迟 ' + next.planned_date),
          companionsPicker(), button);
      } else {
        add(actions, h('p', {className: 'muted'}, '这台电梯没有待办维保。'));
      }
      show(elevatorCard(data.elevator), actions);
    }, function (error) {
      show(h('section', {className: 'card', id: 'not-found'},
        h('p', null, error.message),
        h('button', {className: 'secondary', type: 'button',
          onclick: function () { location.hash = '#/'; }}, '返回')));
      toast(error.message);
    });
  }

  function resultButtons(line, onPick) {
    var box = h('div', {className: 'results'});
    RESULTS.forEach(function (pair) {
      var on = line.result === pair[0];
      add(box, h('button', {
        type: 'button', 'data-result': pair[0],
        className: (on ? 'on ' : '') + pair[0],
        'aria-pressed': on ? 'true' : 'false',
        onclick: function () { onPick(pair[0]); }
      }, pair[1]));
    });
    return box;
  }

  function lineItem(line, editable, refresh) {
    var item = h('div', {className: 'item', 'data-line': line.id,
      'data-code': line.code});
    var note = h('input', {type: 'text', className: 'note',
      placeholder: line.result === 'abnormal' ? '请说明异常情况（必填）' : '备注',
      value: line.note || '', maxlength: '200', disabled: !editable});
    function save(values, button) {
      return busy(button, call('elevator.maintenance.order.line', 'write',
        [[line.id], values])).then(function () {
          Object.assign(line, values);
          refresh();
        });
    }
    function draw() {
      item.textContent = '';
      add(item,
        h('div', {className: 'name'}, line.code + ' ' + line.name,
          line.mandatory ? null : tag('选做')),
        line.requirement ? h('div', {className: 'req'}, line.requirement) : null);
      if (editable) {
        add(item, resultButtons(line, function (result) {
          if (result === 'abnormal' && !note.value.trim()) {
            line.pending = 'abnormal';
            note.placeholder = '请说明异常情况（必填）';
            draw();
            note.focus();
            toast('请先填写异常情况说明。');
            return;
          }
          delete line.pending;
          save({result: result, note: note.value.trim() || null})
            .then(draw, draw);
        }));
        if (line.result && line.result !== 'normal' || line.pending) {
          add(item, note);
        }
      } else {
        add(item, h('div', {className: 'muted'}, '结果：' + (RESULTS.filter(
          function (p) { return p[0] === line.result; })
          .map(function (p) { return p[1]; })[0] || '未填') +
          (line.note ? '（' + line.note + '）' : '')));
      }
    }
    note.addEventListener('change', function () {
      var result = line.pending || line.result;
      if (!result) { return; }
      var text = note.value.trim();
      if (result === 'abnormal' && !text) {
        toast('请说明异常情况。');
        return;
      }
      delete line.pending;
      save({result: result, note: text || null}).then(draw, draw);
    });
    draw();
    return item;
  }

  function orderPage(id) {
    title('维保记录', true);
    show(h('p', {className: 'muted center'}, '正在加载…'));
    var reload = function () { orderPage(id); };
    call(ORDER, 'portal_order', [[id]]).then(function (result) {
      var order = result[0];
      var editable = order.state === 'in_progress' ||
        order.state === 'disputed';
      title(TYPES[order.type] + ' · ' + STATES[order.state], true);
      var progressBar = h('div', null);
      var counter = h('span', {id: 'progress-text'});
      var progress = h('div', {className: 'progress'}, progressBar);
      function refresh() {
        var mandatory = order.lines.filter(function (l) { return l.mandatory; });
        var filled = mandatory.filter(function (l) { return !!l.result; });
        counter.textContent = '已填 ' + filled.length + ' / ' + mandatory.length;
        progressBar.style.width = (mandatory.length ?
          100 * filled.length / mandatory.length : 100) + '%';
      }
      var groups = {};
      order.lines.forEach(function (line) {
        (groups[line.type] = groups[line.type] || []).push(line);
      });
      var checklist = h('section', {className: 'card', id: 'checklist'},
        h('h2', null, '维保项目（TSG T5002）'), counter, progress);
      ['half_monthly', 'quarterly', 'half_yearly', 'yearly']
        .forEach(function (type) {
          if (!groups[type]) { return; }
          add(checklist, h('h3', null, TYPES[type].replace('维保', '项目') +
            '（' + groups[type].length + ' 项）'));
          groups[type].forEach(function (line) {
            add(checklist, lineItem(line, editable, refresh));
          });
        });
      if (editable) {
        var allNormal = h('button', {id: 'all-normal', type: 'button',
          className: 'secondary'}, '其余未填项目均正常');
        allNormal.addEventListener('click', function () {
          var ids = order.lines.filter(function (l) { return !l.result; })
            .map(function (l) { return l.id; });
          if (!ids.length) { return; }
          busy(allNormal, call('elevator.maintenance.order.line', 'write',
            [ids, {result: 'normal'}])).then(reload, function () {});
        });
        add(checklist, allNormal);
      }
      refresh();

      var findings = h('textarea', {id: 'findings', maxlength: '4000',
        disabled: !editable, placeholder: '发现的问题及处理情况'});
      findings.value = order.findings || '';
      var parts = h('textarea', {id: 'parts', maxlength: '2000',
        disabled: !editable, placeholder: '更换的零部件及数量'});
      parts.value = order.parts_replaced || '';
      function saveText() {
        return call(ORDER, 'write', [[order.id], {
          findings: findings.value.trim() || null,
          parts_replaced: parts.value.trim() || null
        }]);
      }
      if (editable) {
        findings.addEventListener('change', function () {
          saveText().catch(function (e) { toast(e.message); });
        });
        parts.addEventListener('change', function () {
          saveText().catch(function (e) { toast(e.message); });
        });
      }
      var visit = h('section', {className: 'card', id: 'visit'},
        h('h2', null, '现场记录'),
        h('dl', {className: 'info'},
          h('dt', null, '编号'), h('dd', null, order.number || '—'),
          h('dt', null, '电梯'), h('dd', null, order.elevator_name),
          h('dt', null, '签到'), h('dd', null, formatTime(order.check_in) +
            (order.check_in_distance !== null &&
              order.check_in_distance !== undefined ?
              '（距电梯 ' + Math.round(order.check_in_distance) + ' 米）' : '')),
          h('dt', null, '签退'), h('dd', {id: 'check-out-time'},
            formatTime(order.check_out)),
          h('dt', null, '用时'), h('dd', {id: 'duration'},
            order.duration !== null && order.duration !== undefined ?
              Math.round(order.duration) + ' 分钟' : '—'),
          h('dt', null, '人员'), h('dd', null, order.technicians.map(
            function (t) { return t.name + (t.certified ? '（持证）' : ''); })
            .join('、'))),
        h('label', {className: 'field'}, h('span', null, '发现问题及处理'),
          findings),
        h('label', {className: 'field'}, h('span', null, '更换零部件'), parts),
        h('h3', null, '现场照片（' + order.photos.length + '）'),
        photoThumbs(order.photos),
        editable ? photoPicker(ORDER, order.id, reload) : null,
        order.dispute_reason ? h('p', {className: 'tag bad'},
          '使用单位异议：' + order.dispute_reason) : null);

      var actions = null;
      if (order.state === 'in_progress') {
        var checkOut = h('button', {id: 'check-out', type: 'button',
          className: 'primary'}, '签退，完成维保');
        checkOut.addEventListener('click', function () {
          busy(checkOut, saveText().then(position).then(function (pos) {
            return call(ORDER, 'end_visit', [[order.id], pos]);
          })).then(function () {
            toast('维保完成，等待使用单位确认。', true);
            reload();
          }, function () {});
        });
        actions = h('div', {className: 'sticky-actions'}, checkOut);
      } else if (order.state === 'disputed') {
        var resubmit = h('button', {id: 'resubmit', type: 'button',
          className: 'primary'}, '修改完毕，重新提交');
        resubmit.addEventListener('click', function () {
          busy(resubmit, saveText().then(function () {
            return call(ORDER, 'resubmit', [[order.id]]);
          })).then(reload, function () {});
        });
        actions = h('div', {className: 'sticky-actions'}, resubmit);
      } else {
        actions = h('section', {className: 'card', id: 'summary'},
          h('p', null, order.state === 'confirmed' ?
            '使用单位已确认，记录不可更改。' : '已签退，等待使用单位确认。'));
      }
      show(visit, checklist, actions);
    }, function (error) {
      show(h('section', {className: 'card', id: 'not-found'},
        h('p', null, error.message)));
      toast(error.message);
    });
  }

  function repairPage(id) {
    title('维修单', true);
    var reload = function () { repairPage(id); };
    call(REPAIR, 'portal_repair', [[id]]).then(function (result) {
      var repair = result[0];
      var editable = repair.state === 'in_progress' ||
        repair.state === 'disputed';
      title('维修 · ' + REPAIR_STATES[repair.state], true);
      var info = h('section', {className: 'card'},
        h('h2', null, repair.number + (repair.urgent ? ' ' : ''),
          repair.urgent ? tag('紧急', 'bad') : null),
        h('dl', {className: 'info'},
          h('dt', null, '来源'), h('dd', null, SOURCES[repair.source] || ''),
          h('dt', null, '报修时间'), h('dd', null,
            formatTime(repair.reported_at)),
          h('dt', null, '故障描述'), h('dd', null, repair.description),
          h('dt', null, '签到'), h('dd', null, formatTime(repair.check_in)),
          h('dt', null, '签退'), h('dd', null, formatTime(repair.check_out)),
          h('dt', null, '人员'), h('dd', null, repair.technicians.map(
            function (t) { return t.name; }).join('、') || '—')));
      var parts = [elevatorCard(repair.elevator), info];
      if (repair.state === 'open') {
        var button = h('button', {id: 'check-in', className: 'primary',
          type: 'button'}, '到场签到');
        button.addEventListener('click', function () {
          busy(button, position().then(function (pos) {
            pos.technicians = chosenCompanions();
            return call(REPAIR, 'start_visit', [[repair.id], pos]);
          })).then(reload, function () {});
        });
        parts.push(h('section', {className: 'card'}, companionsPicker(),
          button));
      } else {
        var cause = h('textarea', {id: 'cause', disabled: !editable,
          placeholder: '故障原因'});
        cause.value = repair.cause || '';
        var work = h('textarea', {id: 'findings', disabled: !editable,
          placeholder: '维修处理情况（必填）'});
        work.value = repair.findings || '';
        var spare = h('textarea', {id: 'parts', disabled: !editable,
          placeholder: '更换的零部件'});
        spare.value = repair.parts_replaced || '';
        var saveText = function () {
          return call(REPAIR, 'write', [[repair.id], {
            cause: cause.value.trim() || null,
            findings: work.value.trim() || null,
            parts_replaced: spare.value.trim() || null
          }]);
        };
        var card = h('section', {className: 'card'},
          h('label', {className: 'field'}, h('span', null, '故障原因'), cause),
          h('label', {className: 'field'}, h('span', null, '处理情况'), work),
          h('label', {className: 'field'}, h('span', null, '更换零部件'),
            spare),
          h('h3', null, '现场照片（' + repair.photos.length + '）'),
          photoThumbs(repair.photos),
          editable ? photoPicker(REPAIR, repair.id, reload) : null);
        parts.push(card);
        if (repair.state === 'in_progress') {
          var checkOut = h('button', {id: 'check-out', className: 'primary',
            type: 'button'}, '签退，完成维修');
          checkOut.addEventListener('click', function () {
            busy(checkOut, saveText().then(position).then(function (pos) {
              return call(REPAIR, 'end_visit', [[repair.id], pos]);
            })).then(reload, function () {});
          });
          parts.push(h('div', {className: 'sticky-actions'}, checkOut));
        } else if (repair.state === 'disputed') {
          var resubmit = h('button', {id: 'resubmit', className: 'primary',
            type: 'button'}, '修改完毕，重新提交');
          resubmit.addEventListener('click', function () {
            busy(resubmit, saveText().then(function () {
              return call(REPAIR, 'resubmit', [[repair.id]]);
            })).then(reload, function () {});
          });
          parts.push(h('div', {className: 'sticky-actions'}, resubmit));
        }
      }
      show(parts);
    }, function (error) {
      show(h('section', {className: 'card', id: 'not-found'},
        h('p', null, error.message)));
      toast(error.message);
    });
  }

  // -- user unit ------------------------------------------------------------

  function unitHome() {
    title('维保记录确认');
    var orders = h('ul', {className: 'list', id: 'review-list'},
      h('li', {className: 'muted'}, '正在加载…'));
    var repairs = h('ul', {className: 'list', id: 'review-repair-list'});
    show(
      h('section', {className: 'card'}, h('h2', null, profile.name),
        h('p', {className: 'muted'}, profile.units.map(function (u) {
          return u.name;
        }).join('、'))),
      h('section', {className: 'card'}, h('h2', null, '待确认的维保记录'),
        orders),
      h('section', {className: 'card'}, h('h2', null, '待确认的维修记录'),
        repairs));
    call(ORDER, 'search_read', [[['state', '=', 'done']], 0, 100,
      [['check_out', 'ASC'], ['id', 'ASC']],
      ['number', 'type', 'check_out', 'duration', 'elevator.rec_name',
        'elevator.building', 'elevator.place.rec_name']])
      .then(function (rows) {
        orders.textContent = '';
        if (!rows.length) {
          add(orders, h('li', {className: 'muted'}, '没有待确认的维保记录。'));
        }
        rows.forEach(function (row) {
          add(orders, h('li', null, h('a', {href: '#/review/' + row.id,
            'data-order': row.id},
            h('div', null, elevatorLabel(row['elevator.'] || {})),
            h('div', {className: 'muted'}, TYPES[row.type] + ' · ' +
              formatTime(row.check_out) + ' · 用时 ' +
              Math.round(row.duration || 0) + ' 分钟'))));
        });
      }).catch(function (error) { toast(error.message); });
    call(REPAIR, 'search_read', [[['state', '=', 'done']], 0, 100,
      [['check_out', 'ASC'], ['id', 'ASC']],
      ['number', 'check_out', 'description', 'elevator.rec_name',
        'elevator.building', 'elevator.place.rec_name']])
      .then(function (rows) {
        if (!rows.length) {
          add(repairs, h('li', {className: 'muted'}, '没有待确认的维修记录。'));
        }
        rows.forEach(function (row) {
          add(repairs, h('li', null, h('a', {
            href: '#/review-repair/' + row.id},
            h('div', null, elevatorLabel(row['elevator.'] || {})),
            h('div', {className: 'muted'}, formatTime(row.check_out) + ' · ' +
              String(row.description || '').slice(0, 40)))));
        });
      }).catch(function (error) { toast(error.message); });
  }

  function signOff(model, record, reload) {
    if (record.state !== 'done') {
      return h('section', {className: 'card', id: 'summary'},
        h('p', null, (model === ORDER ? STATES : REPAIR_STATES)[record.state]));
    }
    var reason = h('textarea', {id: 'dispute-reason', maxlength: '2000',
      placeholder: '请说明有异议的地方'});
    var confirmButton = h('button', {id: 'confirm', type: 'button',
      className: 'primary'}, '确认无误');
    confirmButton.addEventListener('click', function () {
      busy(confirmButton, call(model, 'confirm', [[record.id]]))
        .then(function () {
          toast('已确认。', true);
          reload();
        }, function () {});
    });
    var disputeButton = h('button', {id: 'dispute', type: 'button',
      className: 'danger'}, '有异议');
    disputeButton.addEventListener('click', function () {
      if (!reason.value.trim()) {
        toast('请先说明异议。');
        reason.focus();
        return;
      }
      busy(disputeButton, call(model, 'dispute',
        [[record.id], reason.value.trim()])).then(function () {
          toast('已提交异议，维保单位将处理。', true);
          reload();
        }, function () {});
    });
    return h('section', {className: 'card', id: 'sign-off'},
      h('h2', null, '使用单位确认'), confirmButton,
      h('label', {className: 'field'}, h('span', null, '异议说明'), reason),
      disputeButton);
  }

  function reviewPage(id) {
    title('确认维保记录', true);
    var reload = function () { reviewPage(id); };
    call(ORDER, 'portal_order', [[id]]).then(function (result) {
      var order = result[0];
      var abnormal = order.lines.filter(function (l) {
        return l.result && l.result !== 'normal';
      });
      show(
        elevatorCard(order.elevator),
        h('section', {className: 'card', id: 'record'},
          h('h2', null, TYPES[order.type] + ' · ' + (order.number || '')),
          h('dl', {className: 'info'},
            h('dt', null, '签到'), h('dd', null, formatTime(order.check_in)),
            h('dt', null, '签退'), h('dd', null, formatTime(order.check_out)),
            h('dt', null, '用时'), h('dd', {id: 'duration'},
              Math.round(order.duration || 0) + ' 分钟'),
            h('dt', null, '人员'), h('dd', null, order.technicians.map(
              function (t) { return t.name; }).join('、')),
            h('dt', null, '项目'), h('dd', null, order.lines.length + ' 项，' +
              (abnormal.length ? abnormal.length + ' 项有调整/更换/异常' :
                '全部正常')),
            h('dt', null, '问题'), h('dd', null, order.findings || '—'),
            h('dt', null, '换件'), h('dd', null, order.parts_replaced || '—')),
          abnormal.map(function (line) {
            return h('p', {className: 'muted'}, line.code + ' ' + line.name +
              '：' + (RESULTS.filter(function (p) {
                return p[0] === line.result;
              })[0] || ['', ''])[1] + (line.note ? '（' + line.note + '）' : ''));
          }),
          h('h3', null, '现场照片（' + order.photos.length + '）'),
          photoThumbs(order.photos)),
        signOff(ORDER, order, reload));
    }, function (error) {
      show(h('section', {className: 'card', id: 'not-found'},
        h('p', null, error.message)));
      toast(error.message);
    });
  }

  function reviewRepairPage(id) {
    title('确认维修记录', true);
    var reload = function () { reviewRepairPage(id); };
    call(REPAIR, 'portal_repair', [[id]]).then(function (result) {
      var repair = result[0];
      show(elevatorCard(repair.elevator),
        h('section', {className: 'card', id: 'record'},
          h('h2', null, repair.number),
          h('dl', {className: 'info'},
            h('dt', null, '故障'), h('dd', null, repair.description),
            h('dt', null, '原因'), h('dd', null, repair.cause || '—'),
            h('dt', null, '处理'), h('dd', null, repair.findings || '—'),
            h('dt', null, '换件'), h('dd', null, repair.parts_replaced || '—'),
            h('dt', null, '签到'), h('dd', null, formatTime(repair.check_in)),
            h('dt', null, '签退'), h('dd', null, formatTime(repair.check_out))),
          photoThumbs(repair.photos)),
        signOff(REPAIR, repair, reload));
    }, function (error) {
      show(h('section', {className: 'card', id: 'not-found'},
        h('p', null, error.message)));
      toast(error.message);
    });
  }

  // -- routing --------------------------------------------------------------

  function route() {
    if (!DB) {
      show(h('p', {className: 'center'}, '地址有误：缺少数据库名。'));
      return;
    }
    if (!session) {
      loginPage();
      return;
    }
    if (!profile) {
      show(h('p', {className: 'muted center'}, '正在加载…'));
      loadProfile().then(route, function (error) {
        toast(error.message);
        if (error.expired || !profile) {
          forget();
          loginPage();
        }
      });
      return;
    }
    var parts = location.hash.replace(/^#\/?/, '').split('/');
    var id = parseInt(parts[1], 10);
    var technician = isRole('technician') || isRole('firm_manager');
    if (parts[0] === 'elevator' && parts[1] && technician) {
      elevatorPage(decodeURIComponent(parts[1]));
    } else if (parts[0] === 'order' && id > 0 && technician) {
      orderPage(id);
    } else if (parts[0] === 'repair' && id > 0 && technician) {
      repairPage(id);
    } else if (parts[0] === 'review' && id > 0) {
      reviewPage(id);
    } else if (parts[0] === 'review-repair' && id > 0) {
      reviewRepairPage(id);
    } else if (technician) {
      techHome();
    } else if (isRole('user_unit')) {
      unitHome();
    } else {
      title('电梯维保');
      show(h('section', {className: 'card'},
        h('p', null, '此账号不是维保人员或使用单位账号，请使用平台网页端。')));
    }
  }

  document.getElementById('logout').addEventListener('click', logout);
  document.getElementById('back').addEventListener('click', function () {
    if (history.length > 1) {
      history.back();
    } else {
      location.hash = '#/';
    }
  });
  window.addEventListener('hashchange', route);
  restore();
  route();
}());
