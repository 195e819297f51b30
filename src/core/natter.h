/* natter.h — libnatter, the Natter IM core (no GTK)
 *
 * SPDX-License-Identifier: GPL-3.0-or-later
 */

#pragma once

#define NATTER_INSIDE

#include "natter-codes.h"
#include "natter-object-names.h"
#include "natter-enums.h"
#include "natter-message.h"
#include "natter-content.h"
#include "natter-image.h"
#include "natter-conversation.h"
#include "natter-turn-credentials.h"
#include "natter-store.h"
#include "natter-client.h"
#include "natter-account-service.h"
#include "natter-conversation-list.h"
#include "natter-message-list.h"
#include "natter-reactions.h"

#undef NATTER_INSIDE
