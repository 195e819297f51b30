/* natter-server-list.c — the natterd nodes a client may use
 *
 * The configured nodes, then those the /navi.json of a configured node
 * names (the only others that see the token); NatterClient connects to
 * the node in use and moves to the next when its connection fails.
 *
 * SPDX-License-Identifier: GPL-3.0-or-later
 */

#include "natter-server-list.h"

#include <libsoup/soup.h>
#include <string.h>

#include "natter-client-private.h"
#include "natter-json.h"

#define NAVI_TIMEOUT_S           10
#define NAVI_MAX_BYTES           (64 * 1024)
#define NAVI_MAX_LEARNT          64

/* A natterd node: configured by the user, or named by the /navi.json of a
 * configured node. */
typedef struct {
  char *url;                    /* as configured or as navi named it */
  char *key;                    /* http[s]://host:port/path: the same node whatever the spelling */
  char *origin;                 /* http[s]://host:port */
  GUri *ws_uri;                 /* ws[s]://host:port/path/ws */
  char *media_url;              /* http[s]://host:port/media */
  char *navi_url;               /* http[s]://host:port/path/navi.json */
  gboolean secure;
  gboolean configured;
} ServerEntry;

struct _NatterServerList
{
  GObject parent_instance;

  GPtrArray *entries;           /* ServerEntry: the configured ones, then what navi named */
  guint index;                  /* the node in use */
  GHashTable *origins;          /* "scheme://host:port" natterd named in its replies */
  GCancellable *navi_cancellable;
  guint navi_timeout_source;
};

G_DEFINE_FINAL_TYPE (NatterServerList, natter_server_list, G_TYPE_OBJECT)

enum {
  SIGNAL_NODES_LEARNT,
  N_SIGNALS
};

static guint signals[N_SIGNALS];

/* ------------------------------------------------------------------ entries */

static void
server_entry_free (ServerEntry *entry)
{
  g_free (entry->url);
  g_free (entry->key);
  g_free (entry->origin);
  g_clear_pointer (&entry->ws_uri, g_uri_unref);
  g_free (entry->media_url);
  g_free (entry->navi_url);
  g_free (entry);
}

/* 33003, said as natter_client_error_new() says it. */
static void set_url_error (GError     **error,
                           const char  *format,
                           ...) G_GNUC_PRINTF (2, 3);

static void
set_url_error (GError     **error,
               const char  *format,
               ...)
{
  g_autofree char *text = NULL;
  va_list args;

  va_start (args, format);
  text = g_strdup_vprintf (format, args);
  va_end (args);
  g_propagate_error (error, natter_client_error_new (NATTER_CODE_INVALID_PARAMETER, text));
}

char *
natter_uri_dup_origin (GUri *uri)
{
  g_autofree char *scheme = NULL;
  g_autofree char *host = NULL;
  int port;

  if (uri == NULL || g_uri_get_host (uri) == NULL || *g_uri_get_host (uri) == '\0')
    return NULL;
  scheme = g_ascii_strdown (g_uri_get_scheme (uri), -1);
  port = g_uri_get_port (uri);
  if (g_str_equal (scheme, "http"))
    port = port == -1 ? 80 : port;
  else if (g_str_equal (scheme, "https"))
    port = port == -1 ? 443 : port;
  else
    return NULL;
  host = g_ascii_strdown (g_uri_get_host (uri), -1);
  return g_strdup_printf ("%s://%s:%d", scheme, host, port);
}

/* http://h:p → ws://h:p/ws; https → wss (ws and wss are taken as they
 * are, unless @http_only). NULL with @error for anything else. */
static ServerEntry *
server_entry_new (const char  *url,
                  gboolean     configured,
                  gboolean     http_only,
                  GError     **error)
{
  g_autoptr(GUri) base = NULL;
  g_autoptr(GUri) media = NULL;
  g_autoptr(GUri) navi = NULL;
  g_autofree char *navi_path = NULL;
  g_autofree char *path = NULL;
  g_autofree char *trimmed = NULL;
  const char *scheme;
  const char *base_path;
  gboolean secure;
  ServerEntry *entry;

  base = g_uri_parse (url, G_URI_FLAGS_NONE, NULL);
  if (base == NULL || g_uri_get_host (base) == NULL || *g_uri_get_host (base) == '\0')
    {
      set_url_error (error, "Not a server URL: \"%s\" (give http[s]://host:port)", url);
      return NULL;
    }
  scheme = g_uri_get_scheme (base);
  if (g_ascii_strcasecmp (scheme, "https") == 0 || g_ascii_strcasecmp (scheme, "wss") == 0)
    secure = TRUE;
  else if (g_ascii_strcasecmp (scheme, "http") == 0 || g_ascii_strcasecmp (scheme, "ws") == 0)
    secure = FALSE;
  else
    {
      set_url_error (error, "Not a server URL: \"%s\" (http or https, not %s)", url, scheme);
      return NULL;
    }
  if (g_uri_get_userinfo (base) != NULL || g_uri_get_query (base) != NULL ||
      g_uri_get_fragment (base) != NULL)
    {
      set_url_error (error, "Not a server URL: \"%s\" (no user, query or fragment)", url);
      return NULL;
    }
  /* What natterd prints; ws[s]:// is the client's business. */
  if (http_only && g_ascii_strncasecmp (scheme, "http", 4) != 0)
    {
      set_url_error (error, "Not a server URL: \"%s\" (http or https, not %s)", url, scheme);
      return NULL;
    }

  base_path = g_uri_get_path (base);
  if (base_path == NULL || *base_path == '\0')
    base_path = "/";
  trimmed = g_strdup (base_path);
  while (g_str_has_suffix (trimmed, "/"))
    trimmed[strlen (trimmed) - 1] = '\0';
  path = g_strconcat (trimmed, "/ws", NULL);

  entry = g_new0 (ServerEntry, 1);
  entry->url = g_strdup (url);
  entry->secure = secure;
  entry->configured = configured;
  entry->ws_uri = g_uri_build (G_URI_FLAGS_NONE, secure ? "wss" : "ws", NULL,
                               g_uri_get_host (base), g_uri_get_port (base), path, NULL, NULL);
  media = g_uri_build (G_URI_FLAGS_NONE, secure ? "https" : "http", NULL,
                       g_uri_get_host (base), g_uri_get_port (base), "/media", NULL, NULL);
  entry->media_url = g_uri_to_string (media);
  entry->origin = natter_uri_dup_origin (media);
  entry->key = g_strconcat (entry->origin, trimmed, NULL);
  navi_path = g_strconcat (trimmed, "/navi.json", NULL);
  navi = g_uri_build (G_URI_FLAGS_NONE, secure ? "https" : "http", NULL,
                      g_uri_get_host (base), g_uri_get_port (base), navi_path, NULL, NULL);
  entry->navi_url = g_uri_to_string (navi);
  return entry;
}

static gboolean
has_key (GPtrArray  *entries,
         const char *key)
{
  for (guint i = 0; i < entries->len; i++)
    if (g_str_equal (((ServerEntry *) g_ptr_array_index (entries, i))->key, key))
      return TRUE;
  return FALSE;
}

/* The entries of the comma-separated @list, in order, empty items skipped.
 * @strict: http[s] only, and the first bad URL fails it with @error;
 * otherwise a bad one is said and left out, and so is a node again. */
static GPtrArray *
parse_list (const char  *list,
            gboolean     strict,
            GError     **error)
{
  g_auto(GStrv) parts = g_strsplit (list, ",", -1);
  g_autoptr(GPtrArray) entries = NULL;

  entries = g_ptr_array_new_with_free_func ((GDestroyNotify) server_entry_free);

  for (guint i = 0; parts[i] != NULL; i++)
    {
      const char *url = g_strstrip (parts[i]);
      g_autoptr(GError) local_error = NULL;
      ServerEntry *entry;

      if (*url == '\0')
        continue;
      entry = server_entry_new (url, TRUE, strict, &local_error);
      if (entry != NULL && !strict && has_key (entries, entry->key))
        server_entry_free (entry);
      else if (entry != NULL)
        g_ptr_array_add (entries, entry);
      else if (strict)
        {
          g_propagate_error (error, g_steal_pointer (&local_error));
          return NULL;
        }
      else
        g_warning ("%s", local_error->message);
    }
  return g_steal_pointer (&entries);
}

GStrv
natter_server_urls_parse (const char  *list,
                          GError     **error)
{
  g_autoptr(GPtrArray) entries = NULL;
  g_autoptr(GStrvBuilder) builder = g_strv_builder_new ();

  g_return_val_if_fail (list != NULL, NULL);

  entries = parse_list (list, TRUE, error);
  if (entries == NULL)
    return NULL;
  if (entries->len == 0)
    {
      set_url_error (error, "No server URL (give http[s]://host:port, several separated by "
                     "commas)");
      return NULL;
    }
  for (guint i = 0; i < entries->len; i++)
    g_strv_builder_add (builder, ((ServerEntry *) g_ptr_array_index (entries, i))->url);
  return g_strv_builder_end (builder);
}

static ServerEntry *
current (NatterServerList *self)
{
  return g_ptr_array_index (self->entries, self->index);
}

NatterServerList *
natter_server_list_new (const char *list)
{
  NatterServerList *self = g_object_new (NATTER_TYPE_SERVER_LIST, NULL);

  g_ptr_array_extend_and_steal (self->entries, parse_list (list ? list : "", FALSE, NULL));
  if (self->entries->len == 0)
    {
      g_warning ("No server URL in \"%s\"", list ? list : "");
      g_ptr_array_add (self->entries,
                       server_entry_new ("http://invalid.invalid", TRUE, FALSE, NULL));
    }
  return self;
}

const char *
natter_server_list_get_url (NatterServerList *self)
{
  g_return_val_if_fail (NATTER_IS_SERVER_LIST (self), NULL);
  return current (self)->url;
}

GUri *
natter_server_list_get_ws_uri (NatterServerList *self)
{
  g_return_val_if_fail (NATTER_IS_SERVER_LIST (self), NULL);
  return current (self)->ws_uri;
}

const char *
natter_server_list_get_media_url (NatterServerList *self)
{
  g_return_val_if_fail (NATTER_IS_SERVER_LIST (self), NULL);
  return current (self)->media_url;
}

guint
natter_server_list_get_n_nodes (NatterServerList *self)
{
  g_return_val_if_fail (NATTER_IS_SERVER_LIST (self), 0);
  return self->entries->len;
}

gboolean
natter_server_list_next (NatterServerList *self)
{
  g_return_val_if_fail (NATTER_IS_SERVER_LIST (self), FALSE);

  if (self->entries->len < 2)
    return FALSE;
  self->index = (self->index + 1) % self->entries->len;
  g_debug ("Next server: %s", current (self)->url);
  return TRUE;
}

gboolean
natter_server_list_has_origin (NatterServerList *self,
                               const char       *origin)
{
  g_return_val_if_fail (NATTER_IS_SERVER_LIST (self), FALSE);

  if (origin == NULL)
    return FALSE;
  if (g_hash_table_contains (self->origins, origin))
    return TRUE;
  for (guint i = 0; i < self->entries->len; i++)
    if (g_str_equal (((ServerEntry *) g_ptr_array_index (self->entries, i))->origin, origin))
      return TRUE;
  return FALSE;
}

void
natter_server_list_add_origin (NatterServerList *self,
                               const char       *origin)
{
  g_return_if_fail (NATTER_IS_SERVER_LIST (self));
  g_return_if_fail (origin != NULL);

  g_hash_table_add (self->origins, g_strdup (origin));
}

GStrv
natter_server_list_dup_urls (NatterServerList *self)
{
  g_autoptr(GStrvBuilder) builder = g_strv_builder_new ();

  g_return_val_if_fail (NATTER_IS_SERVER_LIST (self), NULL);

  for (guint i = 0; i < self->entries->len; i++)
    g_strv_builder_add (builder, ((ServerEntry *) g_ptr_array_index (self->entries, i))->url);
  return g_strv_builder_end (builder);
}

/* --------------------------------------------------------------------- navi */

/* GET /navi.json of a configured node, without credentials: the URLs it
 * names (same scheme, http or https only) join the list. Only a node the
 * user configured may name others, so the token goes to no one else. */

typedef struct {
  NatterServerList *self;       /* valid while @cancellable is not cancelled */
  GCancellable *cancellable;
  SoupMessage *message;
  GInputStream *stream;
  GByteArray *body;
  char *from_key;
  gboolean secure;
} NaviFetch;

/* Its own session, never disposed: libsoup 3.2 fails (critical) when a
 * session is disposed while a cancelled request is winding down, which
 * is how a client goes that is freed or disconnected mid-navi. Without
 * cookies or credentials of any kind. */
static SoupSession *
navi_session (void)
{
  static SoupSession *session;

  if (session == NULL)
    session = soup_session_new_with_options ("user-agent", "natter/" PACKAGE_VERSION,
                                             "timeout", NAVI_TIMEOUT_S, "idle-timeout", 10, NULL);
  return session;
}

/* Whoever cancels a fetch forgets it in the list (dispose, disconnect,
 * the timeout); a fetch that ends by itself forgets itself. */
void
natter_server_list_cancel_navi (NatterServerList *self)
{
  g_return_if_fail (NATTER_IS_SERVER_LIST (self));

  g_clear_handle_id (&self->navi_timeout_source, g_source_remove);
  if (self->navi_cancellable != NULL)
    {
      g_cancellable_cancel (self->navi_cancellable);
      g_clear_object (&self->navi_cancellable);
    }
}

static void
navi_fetch_free (NaviFetch *fetch)
{
  if (!g_cancellable_is_cancelled (fetch->cancellable))
    natter_server_list_cancel_navi (fetch->self);
  g_object_unref (fetch->cancellable);
  g_clear_object (&fetch->message);
  g_clear_object (&fetch->stream);
  g_byte_array_unref (fetch->body);
  g_free (fetch->from_key);
  g_free (fetch);
}

/* How many nodes the document of @fetch added. */
static guint
navi_merge (NatterServerList *self,
            NaviFetch        *fetch)
{
  g_autoptr(JsonNode) root = NULL;
  g_autoptr(GError) error = NULL;
  JsonObject *object;
  JsonNode *nodes;
  JsonArray *array;
  guint learnt = 0;
  guint added = 0;

  root = natter_json_parse ((const char *) fetch->body->data, (gssize) fetch->body->len, &error);
  if (root == NULL || !JSON_NODE_HOLDS_OBJECT (root))
    {
      g_debug ("navi.json of %s is not a JSON object: %s", fetch->from_key,
               error != NULL ? error->message : "");
      return 0;
    }
  object = json_node_get_object (root);
  nodes = json_object_get_member (object, "nodes");
  if (json_object_get_int_member_with_default (object, "code", 0) != 200 ||
      nodes == NULL || !JSON_NODE_HOLDS_ARRAY (nodes))
    {
      g_debug ("navi.json of %s has no nodes", fetch->from_key);
      return 0;
    }

  for (guint i = 0; i < self->entries->len; i++)
    if (!((ServerEntry *) g_ptr_array_index (self->entries, i))->configured)
      learnt++;

  array = json_node_get_array (nodes);
  for (guint i = 0; i < json_array_get_length (array) && learnt < NAVI_MAX_LEARNT; i++)
    {
      JsonNode *node = json_array_get_element (array, i);
      const char *url;
      ServerEntry *entry;

      if (!JSON_NODE_HOLDS_OBJECT (node))
        continue;
      url = json_object_get_string_member_with_default (json_node_get_object (node), "url", NULL);
      /* http(s) only, as navi names client URLs, and the scheme of the
       * node that named it: navi never turns https into http. */
      if (url == NULL ||
          !(g_str_has_prefix (url, fetch->secure ? "https://" : "http://")) ||
          (entry = server_entry_new (url, FALSE, TRUE, NULL)) == NULL)
        {
          g_debug ("navi.json of %s: ignoring node %s", fetch->from_key, url ? url : "without url");
          continue;
        }
      if (has_key (self->entries, entry->key))
        {
          server_entry_free (entry);
          continue;
        }
      g_debug ("navi.json of %s names %s", fetch->from_key, entry->url);
      g_ptr_array_add (self->entries, entry);
      learnt++;
      added++;
    }
  return added;
}

static void
navi_read_next (NaviFetch *fetch);

static void
navi_read_cb (GObject      *object,
              GAsyncResult *result,
              gpointer      user_data)
{
  NaviFetch *fetch = user_data;
  g_autoptr(GBytes) bytes = NULL;

  bytes = g_input_stream_read_bytes_finish (G_INPUT_STREAM (object), result, NULL);

  if (g_cancellable_is_cancelled (fetch->cancellable))
    {
      navi_fetch_free (fetch);
      return;
    }
  if (bytes == NULL || fetch->body->len + g_bytes_get_size (bytes) > NAVI_MAX_BYTES)
    {
      g_debug ("navi.json of %s: not read, or larger than %d bytes", fetch->from_key,
               NAVI_MAX_BYTES);
      navi_fetch_free (fetch);
      return;
    }
  if (g_bytes_get_size (bytes) == 0)
    {
      NatterServerList *self = fetch->self;
      guint added = navi_merge (self, fetch);

      /* The fetch is over before anyone hears of it. */
      navi_fetch_free (fetch);
      if (added > 0)
        g_signal_emit (self, signals[SIGNAL_NODES_LEARNT], 0, added);
      return;
    }
  g_byte_array_append (fetch->body, g_bytes_get_data (bytes, NULL), g_bytes_get_size (bytes));
  navi_read_next (fetch);
}

static void
navi_read_next (NaviFetch *fetch)
{
  g_input_stream_read_bytes_async (fetch->stream, 16 * 1024, G_PRIORITY_LOW, fetch->cancellable,
                                   navi_read_cb, fetch);
}

static void
navi_sent_cb (GObject      *object,
              GAsyncResult *result,
              gpointer      user_data)
{
  NaviFetch *fetch = user_data;
  g_autoptr(GError) error = NULL;

  fetch->stream = soup_session_send_finish (SOUP_SESSION (object), result, &error);
  if (g_cancellable_is_cancelled (fetch->cancellable))
    {
      navi_fetch_free (fetch);
      return;
    }
  if (fetch->stream == NULL || soup_message_get_status (fetch->message) != SOUP_STATUS_OK)
    {
      /* An older natterd, or none: the configured list is all there is. */
      g_debug ("No navi.json from %s: %s", fetch->from_key,
               error != NULL ? error->message : soup_message_get_reason_phrase (fetch->message));
      navi_fetch_free (fetch);
      return;
    }
  navi_read_next (fetch);
}

static gboolean
navi_timeout_cb (gpointer user_data)
{
  NatterServerList *self = user_data;

  self->navi_timeout_source = 0;
  natter_server_list_cancel_navi (self);
  return G_SOURCE_REMOVE;
}

void
natter_server_list_fetch_navi (NatterServerList *self)
{
  ServerEntry *entry;
  NaviFetch *fetch;

  g_return_if_fail (NATTER_IS_SERVER_LIST (self));

  entry = current (self);
  if (!entry->configured || self->navi_cancellable != NULL)
    return;

  fetch = g_new0 (NaviFetch, 1);
  fetch->self = self;
  fetch->message = soup_message_new (SOUP_METHOD_GET, entry->navi_url);
  if (fetch->message == NULL)
    {
      g_free (fetch);
      return;
    }
  self->navi_cancellable = g_cancellable_new ();
  fetch->cancellable = g_object_ref (self->navi_cancellable);
  fetch->body = g_byte_array_new ();
  fetch->from_key = g_strdup (entry->key);
  fetch->secure = entry->secure;
  soup_message_headers_replace (soup_message_get_request_headers (fetch->message), "Accept",
                                "application/json");
  self->navi_timeout_source = g_timeout_add_seconds (NAVI_TIMEOUT_S, navi_timeout_cb, self);
  soup_session_send_async (navi_session (), fetch->message, G_PRIORITY_LOW, fetch->cancellable,
                           navi_sent_cb, fetch);
}

/* ------------------------------------------------------------------ GObject */

static void
natter_server_list_dispose (GObject *object)
{
  natter_server_list_cancel_navi (NATTER_SERVER_LIST (object));

  G_OBJECT_CLASS (natter_server_list_parent_class)->dispose (object);
}

static void
natter_server_list_finalize (GObject *object)
{
  NatterServerList *self = NATTER_SERVER_LIST (object);

  g_ptr_array_unref (self->entries);
  g_hash_table_unref (self->origins);

  G_OBJECT_CLASS (natter_server_list_parent_class)->finalize (object);
}

static void
natter_server_list_class_init (NatterServerListClass *klass)
{
  GObjectClass *object_class = G_OBJECT_CLASS (klass);

  object_class->dispose = natter_server_list_dispose;
  object_class->finalize = natter_server_list_finalize;

  signals[SIGNAL_NODES_LEARNT] =
    g_signal_new ("nodes-learnt", G_TYPE_FROM_CLASS (klass), G_SIGNAL_RUN_LAST, 0,
                  NULL, NULL, NULL, G_TYPE_NONE, 1, G_TYPE_UINT);
}

static void
natter_server_list_init (NatterServerList *self)
{
  self->entries = g_ptr_array_new_with_free_func ((GDestroyNotify) server_entry_free);
  self->origins = g_hash_table_new_full (g_str_hash, g_str_equal, g_free, NULL);
}
