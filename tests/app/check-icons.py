#!/usr/bin/env python3
# check-icons.py ICONS_DIR APP_ID — the scalable and symbolic app icons exist,
# are SVG with the expected canvas, and the symbolic one uses one color only.
#
# SPDX-License-Identifier: GPL-3.0-or-later

import os
import re
import sys
import xml.etree.ElementTree as ET

SVG = '{http://www.w3.org/2000/svg}'


def load(path, size):
    root = ET.parse(path).getroot()
    if root.tag != SVG + 'svg':
        raise ValueError(f'{path}: not an SVG document')
    if root.get('viewBox') != f'0 0 {size} {size}':
        raise ValueError(f'{path}: viewBox must be 0 0 {size} {size}')
    if not any(el.tag == SVG + 'path' for el in root.iter()):
        raise ValueError(f'{path}: draws nothing')
    return root


def main():
    icons, app_id = sys.argv[1], sys.argv[2]
    try:
        load(os.path.join(icons, 'hicolor/scalable/apps', app_id + '.svg'), 128)
        sym = load(os.path.join(icons, 'hicolor/symbolic/apps', app_id + '-symbolic.svg'), 16)
        colors = {el.get('fill') for el in sym.iter() if el.get('fill')}
        colors |= set(re.findall(r'fill:\s*(#[0-9a-fA-F]+)', ET.tostring(sym, encoding='unicode')))
        if len(colors) > 1:
            raise ValueError(f'symbolic icon uses several colors: {sorted(colors)}')
    except (OSError, ET.ParseError, ValueError) as e:
        print('FAIL:', e)
        return 1
    print('ok')
    return 0


if __name__ == '__main__':
    sys.exit(main())
