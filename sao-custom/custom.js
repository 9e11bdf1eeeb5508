/* Putian elevator platform: customisation of the sao web client.
 *
 * Tracked in sao-custom/ and copied beside sao's index.html (which loads
 * custom.js and custom.css after sao itself) by scripts/setup-sao.sh.
 */
(function() {
    'use strict';
    var TITLE = '莆田市电梯安全智慧监管平台';
    var ICON = 'platform-icon.svg';

    // The header, the browser's title and desktop notifications.
    Sao.config.title = TITLE;

    // sao 8.0 builds the preferences dialog with the literal title
    // 'Preferences' (no gettext): translate it (sao-custom/zh_CN.po).
    var add_title = Sao.Dialog.prototype.add_title;
    Sao.Dialog.prototype.add_title = function(title, small) {
        if (title === 'Preferences') {
            title = Sao.i18n.gettext(title);
        }
        return add_title.call(this, title, small);
    };

    // Durations in one format, H:MM:SS: sao 8.0 drops the seconds when they
    // are zero ("00:05" for five minutes beside "00:00:38" for 38 seconds)
    // and adds micro-seconds when there are some. Tryton's TimeDelta fields
    // offer no format attribute (their `converter` only names the units),
    // so the client's formatter is wrapped: whole seconds, always shown.
    // Days (and larger units) stay as sao writes them ("1d 02:00:00").
    var format_timedelta = Sao.common.timedelta.format;
    Sao.common.timedelta.format = function(value, converter) {
        if (value && value.asSeconds) {
            var seconds = Math.round(value.asSeconds());
            value = Sao.TimeDelta(null, seconds);
        }
        var text = format_timedelta.call(this, value, converter);
        return text.replace(/(^|[ -])(\d+:\d\d)$/, '$1$2:00');
    };

    jQuery(function() {
        document.title = TITLE;
        jQuery('link[rel="icon"]').attr({'href': ICON, 'type': 'image/svg+xml'});
        var title = jQuery('#title').text(TITLE);
        if (!title.prev('.platform-icon').length) {
            jQuery('<img/>', {
                'class': 'platform-icon',
                'src': ICON,
                'alt': '',
            }).insertBefore(title);
        }
    });
}());
