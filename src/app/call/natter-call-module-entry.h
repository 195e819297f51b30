/* natter-call-module-entry.h — the call module's table (#17)
 *
 * SPDX-License-Identifier: GPL-3.0-or-later
 */

#pragma once

#include "natter-call-module.h"

G_BEGIN_DECLS

const NatterCallModule *natter_call_module_entry (void);

G_END_DECLS
