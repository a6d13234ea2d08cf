#!/usr/bin/env bash
# Writes the Debian package's copyright file (machine-readable format 1.0) on stdout: aavip under
# GPL-2.0-or-later, then every bundled npm module with the license its package.json declares and
# the license text it ships (a standalone paragraph for the two that ship none). Licenses Debian
# keeps in /usr/share/common-licenses (Apache-2.0: prom-client) are referred to there.
# Usage: package-copyright.sh NODE_MODULES_DIR MAINTAINER
set -euo pipefail
NM=$1 MAINTAINER=$2 node --input-type=module <<'EOF'
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';

const nm = process.env.NM;
const indent = (text) => text.trim().split('\n').map((l) => (l.trim() === '' ? ' .' : ` ${l.trimEnd()}`)).join('\n');
// SPDX to the copyright format's short names.
const short = (spdx) => ({ 'GPL-2.0-or-later': 'GPL-2+', MIT: 'Expat', 'BSD-3-Clause': 'BSD-3-clause' })[spdx] ?? spdx;
const GENERIC = {
  Expat: `Permission is hereby granted, free of charge, to any person obtaining a copy of this software and associated documentation files (the "Software"), to deal in the Software without restriction, including without limitation the rights to use, copy, modify, merge, publish, distribute, sublicense, and/or sell copies of the Software, and to permit persons to whom the Software is furnished to do so, subject to the following conditions:

The above copyright notice and this permission notice shall be included in all copies or substantial portions of the Software.

THE SOFTWARE IS PROVIDED "AS IS", WITHOUT WARRANTY OF ANY KIND, EXPRESS OR IMPLIED, INCLUDING BUT NOT LIMITED TO THE WARRANTIES OF MERCHANTABILITY, FITNESS FOR A PARTICULAR PURPOSE AND NONINFRINGEMENT. IN NO EVENT SHALL THE AUTHORS OR COPYRIGHT HOLDERS BE LIABLE FOR ANY CLAIM, DAMAGES OR OTHER LIABILITY, WHETHER IN AN ACTION OF CONTRACT, TORT OR OTHERWISE, ARISING FROM, OUT OF OR IN CONNECTION WITH THE SOFTWARE OR THE USE OR OTHER DEALINGS IN THE SOFTWARE.`,
  ISC: `Permission to use, copy, modify, and/or distribute this software for any purpose with or without fee is hereby granted, provided that the above copyright notice and this permission notice appear in all copies.

THE SOFTWARE IS PROVIDED "AS IS" AND THE AUTHOR DISCLAIMS ALL WARRANTIES WITH REGARD TO THIS SOFTWARE INCLUDING ALL IMPLIED WARRANTIES OF MERCHANTABILITY AND FITNESS. IN NO EVENT SHALL THE AUTHOR BE LIABLE FOR ANY SPECIAL, DIRECT, INDIRECT, OR CONSEQUENTIAL DAMAGES OR ANY DAMAGES WHATSOEVER RESULTING FROM LOSS OF USE, DATA OR PROFITS, WHETHER IN AN ACTION OF CONTRACT, NEGLIGENCE OR OTHER TORTIOUS ACTION, ARISING OUT OF OR IN CONNECTION WITH THE USE OR PERFORMANCE OF THIS SOFTWARE.`,
};

// Every module, nested ones (another version under a module's own node_modules) included.
const modulesIn = (dir) =>
  readdirSync(dir)
    .filter((d) => !d.startsWith('.'))
    .flatMap((d) => (d.startsWith('@') ? readdirSync(join(dir, d)).map((s) => `${d}/${s}`) : [d]))
    .flatMap((m) => [m, ...(existsSync(join(dir, m, 'node_modules')) ? modulesIn(join(dir, m, 'node_modules')).map((n) => `${m}/node_modules/${n}`) : [])]);
const modules = modulesIn(nm);
const paragraphs = [
  `Format: https://www.debian.org/doc/packaging-manuals/copyright-format/1.0/
Upstream-Name: aavip
Upstream-Contact: ${process.env.MAINTAINER}`,
  `Files: *
Copyright: the aavip authors
License: GPL-2+
 This program is free software; you can redistribute it and/or modify it
 under the terms of the GNU General Public License as published by the Free
 Software Foundation; either version 2 of the License, or (at your option)
 any later version.
 .
 This program is distributed in the hope that it will be useful, but WITHOUT
 ANY WARRANTY; without even the implied warranty of MERCHANTABILITY or FITNESS
 FOR A PARTICULAR PURPOSE. See the GNU General Public License for more details.
 .
 On Debian systems, the complete text of the GNU General Public License
 version 2 can be found in /usr/share/common-licenses/GPL-2.`,
];
// Debian policy 12.5: a license in /usr/share/common-licenses is referred to, not copied.
const COMMON = { 'Apache-2.0': 'Apache-2.0' };
const generic = new Set();
for (const m of modules.sort()) {
  const p = JSON.parse(readFileSync(join(nm, m, 'package.json'), 'utf8'));
  const author = typeof p.author === 'string' ? p.author : (p.author?.name ?? 'its authors');
  const file = readdirSync(join(nm, m)).find((f) => /^(licen[cs]e|copying)(\.md|\.txt)?$/i.test(f));
  const text = file ? readFileSync(join(nm, m, file), 'utf8') : '';
  const lic = short(p.license);
  const copyright = text.match(/^.*copyright.*\d{4}.*$/im)?.[0].replace(/^\W*copyright\s*(\(c\)|©)?\s*/i, '') || author;
  const common = COMMON[p.license];
  if (!file && !common) generic.add(lic);
  const body = common ? `On Debian systems, the complete text of the license can be found in /usr/share/common-licenses/${common}.` : text;
  paragraphs.push(`Files: usr/lib/aavip/node_modules/${m}/*
Copyright: ${copyright.trim()}
License: ${lic}${body ? `\n${indent(body)}` : ''}
Comment: ${p.name} ${p.version}, bundled from npm`);
}
for (const lic of generic) {
  if (!GENERIC[lic]) throw new Error(`no license text for ${lic}`);
  paragraphs.push(`License: ${lic}\n${indent(GENERIC[lic])}`);
}
process.stdout.write(`${paragraphs.join('\n\n')}\n`);
EOF
