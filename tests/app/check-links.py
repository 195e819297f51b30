#!/usr/bin/env python3
# check-links.py NATTER CALL_MODULE — natter does not link GStreamer, libnice
# or libnatter-call: they are in the call module, which the app loads when
# it first needs a call, a sound or a recording (#17). The module does link
# GStreamer, and exports its entry point.
#
# SPDX-License-Identifier: GPL-3.0-or-later

import re
import subprocess
import sys


def needed(path):
    out = subprocess.run(['readelf', '-d', '-W', path], check=True, capture_output=True, text=True).stdout
    return re.findall(r'\(NEEDED\)\s+Shared library: \[([^\]]+)\]', out)


def exported(path):
    out = subprocess.run(['readelf', '--dyn-syms', '-W', path], check=True, capture_output=True, text=True).stdout
    return {line.split()[-1] for line in out.splitlines() if ' FUNC ' in line and ' UND ' not in line}


def main():
    natter, module = sys.argv[1], sys.argv[2]
    errors = []
    app_libs = needed(natter)
    for lib in app_libs:
        if lib.startswith(('libgst', 'libnice')):
            errors.append(f'natter links {lib}: it belongs in the call module')
    module_libs = needed(module)
    if not any(lib.startswith('libgstreamer-1.0') for lib in module_libs):
        errors.append('the call module does not link GStreamer')
    if 'natter_call_module_entry' not in exported(module):
        errors.append('the call module does not export natter_call_module_entry')
    # its libnatter is the binary's (one copy of each GType): natter exports it
    if 'natter_client_get_type' not in exported(natter):
        errors.append('natter does not export libnatter (the call module finds it there)')
    if 'natter_client_get_type' in exported(module):
        errors.append('the call module has its own copy of libnatter')
    for e in errors:
        print(e, file=sys.stderr)
    print(f'natter: {len(app_libs)} libraries linked, the call module {len(module_libs)}')
    return 1 if errors else 0


if __name__ == '__main__':
    sys.exit(main())
