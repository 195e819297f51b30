-- A profile written by libnatter schema version 1 (before full-text search,
-- mention counts and read marks), as `sqlite3 natter.db .dump` prints it.
PRAGMA foreign_keys=OFF;
BEGIN TRANSACTION;
CREATE TABLE meta (  key TEXT PRIMARY KEY NOT NULL,  value TEXT NOT NULL) WITHOUT ROWID;
INSERT INTO meta VALUES('device-id','6a0c2c3e-4f0b-4a43-9c1d-8f1f2b1d0a11');
INSERT INTO meta VALUES('last-seq','7');
INSERT INTO meta VALUES('user-id','alice');
CREATE TABLE users (  id TEXT PRIMARY KEY NOT NULL,  name TEXT,  portrait_uri TEXT) WITHOUT ROWID;
INSERT INTO users VALUES('bob','Bob Builder',NULL);
CREATE TABLE conversations (  id INTEGER PRIMARY KEY,  type INTEGER NOT NULL,  target_id TEXT NOT NULL,  title TEXT,  portrait_uri TEXT,  latest_message_id INTEGER,  unread_count INTEGER NOT NULL DEFAULT 0,  pinned INTEGER NOT NULL DEFAULT 0,  muted INTEGER NOT NULL DEFAULT 0,  draft TEXT,  hidden INTEGER NOT NULL DEFAULT 0,  updated_time INTEGER NOT NULL DEFAULT 0,  UNIQUE (type, target_id));
INSERT INTO conversations VALUES(1,1,'bob',NULL,NULL,3,1,0,0,NULL,0,1700000002000);
INSERT INTO conversations VALUES(2,3,'team',NULL,NULL,4,0,1,0,'half a thought',0,1700000001000);
CREATE TABLE messages (  id INTEGER PRIMARY KEY,  conversation_id INTEGER NOT NULL REFERENCES conversations (id) ON DELETE CASCADE,  uid TEXT UNIQUE,  sender_user_id TEXT NOT NULL,  object_name TEXT NOT NULL,  content TEXT NOT NULL,  direction INTEGER NOT NULL,  sent_status INTEGER NOT NULL,  sent_time INTEGER NOT NULL,  received_time INTEGER NOT NULL,  offline INTEGER NOT NULL DEFAULT 0,  error_code INTEGER NOT NULL DEFAULT 0,  client_msg_id TEXT,  flags INTEGER NOT NULL DEFAULT 0);
INSERT INTO messages VALUES(1,1,'AAAA-AAAA-AAAA-0001','alice','RC:TxtMsg','{"content":"lunch tomorrow?"}',1,30,1700000000000,1700000000000,0,0,'c1',3);
INSERT INTO messages VALUES(2,1,'AAAA-AAAA-AAAA-0002','bob','RC:TxtMsg','{"content":"明天中午见","user":{"id":"bob","name":"Bob Builder"}}',2,40,1700000001000,1700000001500,1,0,NULL,3);
INSERT INTO messages VALUES(3,1,NULL,'alice','RC:TxtMsg','{"content":"still in the outbox"}',1,10,1700000002000,1700000002000,0,0,'c3',3);
INSERT INTO messages VALUES(4,2,'AAAA-AAAA-AAAA-0004','carol','XX:Sticker','{"pack":"cats","id":7}',2,40,1700000001000,1700000001000,0,0,NULL,3);
CREATE INDEX conversations_order ON conversations (pinned DESC, updated_time DESC);
CREATE INDEX messages_by_time ON messages (conversation_id, sent_time, id);
CREATE INDEX messages_outbox ON messages (id) WHERE sent_status = 10;
PRAGMA user_version=1;
COMMIT;
