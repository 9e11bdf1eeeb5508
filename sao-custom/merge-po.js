#!/usr/bin/env node
// Merge the translations of a gettext .po file into one of sao's
// locale/<lang>.json files ({"msgid": [null, "msgstr"], ...}).
//
//   node merge-po.js BASE.json OVERLAY.po OUT.json
//
// BASE is sao's own file as shipped (kept aside by scripts/setup-sao.sh), so
// the result depends only on BASE and OVERLAY: running again gives the same
// file. Entries with an empty msgstr and fuzzy entries are ignored, as
// sao's own build does. Only singular entries (msgid/msgstr) are handled.
'use strict';
const fs = require('fs');

function parse(text) {
    const entries = [];
    let entry = {}, field = null, fuzzy = false;
    const flush = () => {
        if (entry.msgid !== undefined && !fuzzy) {
            entries.push(entry);
        }
        entry = {};
        field = null;
        fuzzy = false;
    };
    for (const raw of text.split(/\r?\n/)) {
        const line = raw.trim();
        if (!line) {
            flush();
        } else if (line.startsWith('#,')) {
            fuzzy = fuzzy || /\bfuzzy\b/.test(line);
        } else if (line.startsWith('#')) {
            continue;
        } else {
            const m = /^(msgctxt|msgid|msgstr)\s+(".*")$/.exec(line);
            if (m) {
                if (m[1] === 'msgctxt' || (m[1] === 'msgid'
                        && entry.msgid !== undefined)) {
                    flush();
                }
                field = m[1];
                entry[field] = JSON.parse(m[2]);
            } else if (line.startsWith('"') && field) {
                entry[field] += JSON.parse(line);
            } else {
                throw new Error(`cannot read line: ${raw}`);
            }
        }
    }
    flush();
    return entries;
}

const [base, overlay, out] = process.argv.slice(2);
if (!out) {
    console.error('usage: merge-po.js BASE.json OVERLAY.po OUT.json');
    process.exit(2);
}
const data = JSON.parse(fs.readFileSync(base, 'utf8'));
let count = 0;
for (const entry of parse(fs.readFileSync(overlay, 'utf8'))) {
    if (!entry.msgid || !entry.msgstr || entry.msgctxt !== undefined) {
        continue;
    }
    data[entry.msgid] = [null, entry.msgstr];
    count += 1;
}
const text = JSON.stringify(data);
let current = null;
try {
    current = fs.readFileSync(out, 'utf8');
} catch (e) {
    // not there yet
}
if (text !== current) {
    const tmp = `${out}.tmp`;
    fs.writeFileSync(tmp, text);
    fs.renameSync(tmp, out);
    console.log(`${count} translations of ${overlay} merged into ${out}`);
}
