#!/usr/bin/env python3
# check-flatpak.py SOURCE_ROOT — flatpak/im.natter.Natter.json parses, uses
# the GNOME runtime with the finish-args the app needs, and every dependency
# and program the meson build asks for is either in org.gnome.Platform/Sdk or
# built by a module of the manifest.
#
# SPDX-License-Identifier: GPL-3.0-or-later

import json
import os
import re
import sys

# What org.gnome.Platform/Sdk (GNOME 47, freedesktop-sdk 24.08) ships.
RUNTIME = {
    'glib-2.0', 'gobject-2.0', 'gio-2.0', 'gio-unix-2.0', 'gmodule-2.0',
    'json-glib-1.0', 'libsoup-3.0', 'sqlite3', 'gdk-pixbuf-2.0',
    'gstreamer-1.0', 'gstreamer-base-1.0', 'gstreamer-sdp-1.0', 'gstreamer-app-1.0', 'gstreamer-video-1.0',
    'gstreamer-audio-1.0', 'gstreamer-pbutils-1.0', 'gstreamer-rtp-1.0',
    'gtk4', 'libadwaita-1', 'libsecret-1',
    # programs
    'glib-compile-resources', 'glib-compile-schemas', 'glib-mkenums',
    'msgfmt', 'msgmerge', 'xgettext', 'desktop-file-validate',
    'appstreamcli', 'update-desktop-database', 'gtk4-update-icon-cache',
}

# What each module of the manifest provides (pkg-config names and programs).
MODULES = {
    'protobuf': {'protobuf', 'protoc'},
    'protobuf-c': {'libprotobuf-c', 'protoc-c'},
    'libnice': {'nice'},
    'libsrtp2': {'libsrtp2'},
    # The runtime's gst-plugins-bad lacks libnice, so webrtcbin and its
    # nice transport come from here (with webrtcdsp for echo cancelling).
    'gst-plugins-bad-webrtc': {'gstreamer-webrtc-1.0', 'gstreamer-webrtc-nice-1.0'},
    'natter': set(),
}

REQUIRED_FINISH_ARGS = {
    '--share=network',
    '--socket=wayland',
    '--socket=fallback-x11',
    # X11's shared memory (fallback-x11)
    '--share=ipc',
    # the GPU for GTK's renderer, and nothing else of /dev
    '--device=dri',
    # sound: PulseAudio (PipeWire's pulse server) and PipeWire itself
    '--socket=pulseaudio',
    '--filesystem=xdg-run/pipewire-0',
    '--talk-name=org.freedesktop.secrets',
}

# No more than needed: cameras come through the Camera portal (a PipeWire
# remote, pipewiresrc), notifications and running in the background
# through their portals, which need no finish-args.
FORBIDDEN_FINISH_ARGS = {
    '--device=all': 'cameras come through the Camera portal (pipewiresrc), not all of /dev',
    '--device=shm': 'not needed',
    '--socket=session-bus': 'the portals and named bus names are enough',
    '--socket=system-bus': 'not needed',
    '--filesystem=host': 'files come through the file chooser portal',
    '--filesystem=home': 'files come through the file chooser portal',
    '--talk-name=org.freedesktop.Notifications': 'GNotification uses the Notification portal in Flatpak',
    '--talk-name=org.freedesktop.Flatpak': 'a sandbox escape',
}

CALL_RE = re.compile(r"\b(dependency|find_program)\(\s*'([^']+)'([^)]*)\)")


def meson_wants(root, disabled_opts):
    wants = {}
    for dirpath, dirnames, filenames in os.walk(root):
        rel = os.path.relpath(dirpath, root)
        top = '' if rel == '.' else rel.split(os.sep)[0]
        # build dirs, hidden dirs, and tests (the Flatpak builds -Dtests=false)
        if top.startswith('_build') or top.startswith('.') or top in ('tests', 'subprojects'):
            dirnames[:] = []
            continue
        if 'meson.build' in filenames:
            path = os.path.join(dirpath, 'meson.build')
            with open(path, encoding='utf-8') as f:
                text = f.read()
            for kind, name, rest in CALL_RE.findall(text):
                if 'required: false' in rest:
                    continue
                # a feature the manifest turns off (-Dserver=disabled: natterd)
                if any(f'required: {opt}_opt' in rest for opt in disabled_opts):
                    continue
                wants.setdefault(name, set()).add(os.path.relpath(path, root))
    return wants


def main():
    root = sys.argv[1]
    with open(os.path.join(root, 'flatpak', 'im.natter.Natter.json'), encoding='utf-8') as f:
        manifest = json.load(f)

    errors = []
    expect = {
        'id': 'im.natter.Natter',
        'runtime': 'org.gnome.Platform',
        'sdk': 'org.gnome.Sdk',
        'command': 'natter',
    }
    for key, value in expect.items():
        if manifest.get(key) != value:
            errors.append(f'{key} is {manifest.get(key)!r}, expected {value!r}')

    missing_args = REQUIRED_FINISH_ARGS - set(manifest.get('finish-args', []))
    for arg in sorted(missing_args):
        errors.append(f'finish-args lacks {arg}')
    for arg in manifest.get('finish-args', []):
        if arg in FORBIDDEN_FINISH_ARGS:
            errors.append(f'finish-args has {arg}: {FORBIDDEN_FINISH_ARGS[arg]}')
        elif arg not in REQUIRED_FINISH_ARGS:
            errors.append(f'finish-args has {arg}, which this test does not know is needed')

    modules = manifest.get('modules', [])
    names = [m.get('name') for m in modules if isinstance(m, dict)]
    if not names or names[-1] != 'natter':
        errors.append('the last module must build natter itself')
    for m in modules:
        if not m.get('sources'):
            errors.append(f'module {m.get("name")} has no sources')
        for s in m.get('sources', []):
            if s.get('type') in ('archive', 'file') and 'sha256' not in s:
                errors.append(f'module {m.get("name")}: archive without sha256')
            if s.get('type') == 'git' and not (s.get('tag') or s.get('commit')):
                errors.append(f'module {m.get("name")}: git source without tag or commit')

    provided = set(RUNTIME)
    for name in names:
        if name not in MODULES:
            errors.append(f'module {name} is unknown to this test: add what it provides')
        provided |= MODULES.get(name, set())

    natter = next((m for m in modules if isinstance(m, dict) and m.get('name') == 'natter'), {})
    disabled_opts = {o[2:-len('=disabled')] for o in natter.get('config-opts', [])
                     if o.startswith('-D') and o.endswith('=disabled')}
    wants = meson_wants(root, disabled_opts)
    if 'gtk4' not in wants or 'libprotobuf-c' not in wants:
        errors.append('did not find the meson dependencies (gtk4, libprotobuf-c): wrong root?')
    for name, where in sorted(wants.items()):
        if name not in provided:
            errors.append(f"meson needs '{name}' ({', '.join(sorted(where))}) "
                          'but neither the runtime nor a module provides it')

    if errors:
        for e in errors:
            print('FAIL:', e)
        return 1
    print(f'ok: {len(wants)} dependencies and programs covered by the runtime and '
          f'{len(names)} modules ({", ".join(names)})')
    return 0


if __name__ == '__main__':
    sys.exit(main())
