-- A profile written by libnatter schema version 2 (full-text search, mention
-- counts, read marks and cleared marks; before the profiles of version 3):
-- alice read her chat with bob up to 1700000002500 and cleared it at
-- 1700000000500; in the team group someone mentioned her.
PRAGMA foreign_keys=OFF;
BEGIN TRANSACTION;
CREATE TABLE meta (  key TEXT PRIMARY KEY NOT NULL,  value TEXT NOT NULL) WITHOUT ROWID;
INSERT INTO meta VALUES('device-id','0b7e1d52-2f54-4c1e-8a5e-51c0d7f2e3a4');
INSERT INTO meta VALUES('last-seq','12');
INSERT INTO meta VALUES('user-id','alice');
CREATE TABLE users (  id TEXT PRIMARY KEY NOT NULL,  name TEXT,  portrait_uri TEXT) WITHOUT ROWID;
INSERT INTO users VALUES('bob','Bob Builder',NULL);
CREATE TABLE conversations (  id INTEGER PRIMARY KEY,  type INTEGER NOT NULL,  target_id TEXT NOT NULL,  title TEXT,  portrait_uri TEXT,  latest_message_id INTEGER,  unread_count INTEGER NOT NULL DEFAULT 0,  pinned INTEGER NOT NULL DEFAULT 0,  muted INTEGER NOT NULL DEFAULT 0,  draft TEXT,  hidden INTEGER NOT NULL DEFAULT 0,  updated_time INTEGER NOT NULL DEFAULT 0, mention_count INTEGER NOT NULL DEFAULT 0, read_time INTEGER NOT NULL DEFAULT 0, cleared_time INTEGER NOT NULL DEFAULT 0,  UNIQUE (type, target_id));
INSERT INTO conversations VALUES(1,1,'bob',NULL,NULL,3,1,0,0,NULL,0,1700000003000,0,1700000002500,1700000000500);
INSERT INTO conversations VALUES(2,3,'team',NULL,NULL,4,1,1,0,NULL,0,1700000002000,1,0,0);
CREATE TABLE messages (  id INTEGER PRIMARY KEY,  conversation_id INTEGER NOT NULL REFERENCES conversations (id) ON DELETE CASCADE,  uid TEXT UNIQUE,  sender_user_id TEXT NOT NULL,  object_name TEXT NOT NULL,  content TEXT NOT NULL,  direction INTEGER NOT NULL,  sent_status INTEGER NOT NULL,  sent_time INTEGER NOT NULL,  received_time INTEGER NOT NULL,  offline INTEGER NOT NULL DEFAULT 0,  error_code INTEGER NOT NULL DEFAULT 0,  client_msg_id TEXT,  flags INTEGER NOT NULL DEFAULT 0);
INSERT INTO messages VALUES(2,1,'BBBB-BBBB-BBBB-0002','bob','RC:TxtMsg','{"content":"明天中午见"}',2,40,1700000001000,1700000001500,1,0,NULL,3);
INSERT INTO messages VALUES(3,1,'BBBB-BBBB-BBBB-0003','bob','RC:TxtMsg','{"content":"see you there"}',2,40,1700000003000,1700000003000,0,0,NULL,3);
INSERT INTO messages VALUES(4,2,'BBBB-BBBB-BBBB-0004','carol','RC:TxtMsg','{"content":"@alice 周报今天交","mentionedInfo":{"type":2,"userIdList":["alice"]}}',2,40,1700000002000,1700000002000,0,0,NULL,3);
CREATE INDEX conversations_order ON conversations (pinned DESC, updated_time DESC);
CREATE INDEX messages_by_time ON messages (conversation_id, sent_time, id);
CREATE INDEX messages_outbox ON messages (id) WHERE sent_status = 10;
CREATE VIRTUAL TABLE message_search USING fts5 (text, tokenize = 'unicode61');
INSERT INTO message_search (rowid, text) VALUES(2,'明 天 中 午 见 ');
INSERT INTO message_search (rowid, text) VALUES(3,'see you there');
INSERT INTO message_search (rowid, text) VALUES(4,'@alice 周 报 今 天 交 ');
PRAGMA user_version=2;
COMMIT;
