#!/usr/bin/env python3
# check-po.py potfiles SOURCE_ROOT
#   every file with translatable strings is in po/POTFILES.in, and every file
#   listed there exists
# check-po.py complete SOURCE_ROOT LANG
#   extracts the strings of POTFILES.in afresh (as `ninja natter-pot` would)
#   and checks that po/LANG.po translates every one of them, none fuzzy,
#   and passes msgfmt --check
#
# SPDX-License-Identifier: GPL-3.0-or-later

import os
import re
import subprocess
import sys
import tempfile

C_MARK = re.compile(r'(?<![A-Za-z0-9_])(_|N_|C_|NC_|ngettext|g_dngettext|g_dpgettext2)\s*\(\s*"')
UI_MARK = re.compile(r'translatable="(yes|true)"')
SCAN_DIRS = ('src', 'call', 'data')
# Data files that are always translatable.
DATA_SUFFIXES = ('.desktop.in', '.metainfo.xml.in', '.gschema.xml')


def read_list(path):
    if not os.path.exists(path):
        return []
    with open(path, encoding='utf-8') as f:
        return [line.strip() for line in f
                if line.strip() and not line.startswith('#')]


def has_strings(path):
    if path.endswith(DATA_SUFFIXES):
        return True
    if path.endswith(('.c', '.h')):
        with open(path, encoding='utf-8') as f:
            return bool(C_MARK.search(f.read()))
    if path.endswith('.ui'):
        with open(path, encoding='utf-8') as f:
            return bool(UI_MARK.search(f.read()))
    return False


def potfiles(root):
    listed = read_list(os.path.join(root, 'po', 'POTFILES.in'))
    skipped = set(read_list(os.path.join(root, 'po', 'POTFILES.skip')))
    errors = []
    for rel in listed:
        if not os.path.exists(os.path.join(root, rel)):
            errors.append(f'{rel} is in po/POTFILES.in but does not exist')
    if len(set(listed)) != len(listed):
        errors.append('po/POTFILES.in lists a file twice')
    if listed != sorted(listed):
        errors.append('po/POTFILES.in is not sorted')
    found = 0
    for top in SCAN_DIRS:
        for dirpath, dirnames, filenames in os.walk(os.path.join(root, top)):
            dirnames.sort()
            for name in sorted(filenames):
                rel = os.path.relpath(os.path.join(dirpath, name), root)
                # src/cli and src/server talk to scripts and operators in English
                if rel.startswith(('src/server/', 'src/cli/', 'src/core/')):
                    continue
                if has_strings(os.path.join(root, rel)):
                    found += 1
                    if rel not in listed and rel not in skipped:
                        errors.append(f'{rel} has translatable strings but is not in po/POTFILES.in')
    for e in errors:
        print('FAIL:', e)
    if not errors:
        print(f'ok: {len(listed)} files in po/POTFILES.in, {found} files with strings found')
    return 1 if errors else 0


def complete(root, lang):
    po = os.path.join(root, 'po', f'{lang}.po')
    listed = read_list(os.path.join(root, 'po', 'POTFILES.in'))
    linguas = read_list(os.path.join(root, 'po', 'LINGUAS'))
    if lang not in ' '.join(linguas).split():
        print(f'FAIL: {lang} is not in po/LINGUAS')
        return 1
    with tempfile.TemporaryDirectory() as tmp:
        pot = os.path.join(tmp, 'natter.pot')
        subprocess.run(['xgettext', '--from-code=UTF-8', '--add-comments',
                        '--keyword=_', '--keyword=N_', '--keyword=C_:1c,2',
                        '--keyword=NC_:1c,2', '--keyword=g_dcgettext:2',
                        '--keyword=g_dngettext:2,3', '--keyword=g_dpgettext2:2c,3',
                        '--keyword=ngettext:1,2',
                        '--flag=N_:1:pass-c-format', '--flag=C_:2:pass-c-format',
                        '--flag=g_strdup_printf:1:c-format',
                        '--flag=g_string_printf:2:c-format',
                        '--package-name=natter', '-o', pot, '-D', root] + listed,
                       check=True)
        merged = os.path.join(tmp, 'merged.po')
        subprocess.run(['msgmerge', '--quiet', '--no-fuzzy-matching', '-o', merged, po, pot],
                       check=True)
        errors = []
        untranslated = subprocess.run(['msgattrib', '--untranslated', '--no-obsolete', merged],
                                      check=True, capture_output=True, text=True).stdout
        ids = re.findall(r'^msgid "(.*)"$', untranslated, re.M)
        ids = [i for i in ids if i]
        for i in ids:
            errors.append(f'{lang}: untranslated: "{i}"')
        fuzzy = subprocess.run(['msgattrib', '--only-fuzzy', '--no-obsolete', po],
                               check=True, capture_output=True, text=True).stdout
        for i in [i for i in re.findall(r'^msgid "(.*)"$', fuzzy, re.M) if i]:
            errors.append(f'{lang}: fuzzy: "{i}"')
        check = subprocess.run(['msgfmt', '--check', '--statistics', '-o', os.devnull, po],
                               capture_output=True, text=True)
        if check.returncode != 0:
            errors.append(f'msgfmt --check {lang}.po: {check.stderr.strip()}')
        for e in errors:
            print('FAIL:', e)
        if not errors:
            print(f'ok: {check.stderr.strip()}')
        return 1 if errors else 0


def main():
    if sys.argv[1] == 'potfiles':
        return potfiles(sys.argv[2])
    if sys.argv[1] == 'complete':
        return complete(sys.argv[2], sys.argv[3])
    print(__doc__)
    return 2


if __name__ == '__main__':
    sys.exit(main())
