#!/usr/bin/python3
"""Real bounces through the running server: every golden fixture of tests/fixtures/bounce is
sent with Python's smtplib to reboundd, each to its own envelope address (minted by
`rebound token encode`), and the events found in PostgreSQL must be the records the parser's
golden file lists for it (recipient, reason, disposition), attributed to that address's
mailing and recipient.

usage: test_smtp_corpus.py --reboundd PATH --rebound PATH --pg-admin-url CONNINFO --fixtures DIR
"""
import argparse
import collections
import glob
import json
import os
import re
import signal
import smtplib
import subprocess
import sys
import tempfile
import time
import unittest

ARGS = None


def psql(url, sql):
    out = subprocess.run(["psql", url, "-qtAX", "-v", "ON_ERROR_STOP=1", "-c", sql],
                         check=True, capture_output=True, text=True)
    return out.stdout.strip()


def with_db(url, name):
    return " ".join([p for p in url.split() if not p.startswith("dbname=")] + ["dbname=" + name])


class CorpusThroughSmtp(unittest.TestCase):
    def test_every_fixture_is_stored_as_its_golden_records(self):
        tmp = tempfile.TemporaryDirectory(prefix="rebound-corpus-")
        dbname = "rebound_corpus_%d" % os.getpid()
        psql(ARGS.pg_admin_url, "CREATE DATABASE %s" % dbname)
        db_url = with_db(ARGS.pg_admin_url, dbname)
        env = dict(os.environ, REBOUND_DATABASE_URL=db_url, REBOUND_DATA_DIR=os.path.join(tmp.name, "data"),
                   REBOUND_GRPC_LISTEN="127.0.0.1:0", REBOUND_SMTP_LISTEN="127.0.0.1:0", REBOUND_DNS_RECHECK_ENABLED="false",
                   REBOUND_MASTER_KEY="cd" * 32, REBOUND_INGEST_DOMAIN_REFRESH_SECONDS="1",
                   REBOUND_LOG_LEVEL="warn")
        log = open(os.path.join(tmp.name, "reboundd.log"), "w+")
        proc = subprocess.Popen([ARGS.reboundd], env=dict(env, REBOUND_LOG_LEVEL="info"), stderr=log,
                                stdin=subprocess.DEVNULL)
        try:
            port = None
            for _ in range(300):
                log.seek(0)
                m = re.search(r"event=smtp\.listening address=\S+ port=(\d+)", log.read())
                if m:
                    port = int(m.group(1))
                    break
                time.sleep(0.1)
            self.assertIsNotNone(port, "reboundd did not start")
            account = psql(db_url, "INSERT INTO accounts (name) VALUES ('corpus') RETURNING id")
            psql(db_url, "INSERT INTO sender_domains (account_id, domain, feedback_domain) "
                         "VALUES (%s, 'corpus.test', 'feedback.corpus.test')" % account)
            time.sleep(1.5)  # the domain directory reloads every second here

            files = sorted(glob.glob(os.path.join(ARGS.fixtures, "*.eml")))
            self.assertGreater(len(files), 50)
            expected = {}
            smtp = smtplib.SMTP("127.0.0.1", port, timeout=30)
            smtp.ehlo("corpus.client")
            refused = []
            bare_cr_refused = 0
            for rid, path in enumerate(files, start=1):
                address = subprocess.run(
                    [ARGS.rebound, "token", "encode", "--mailing", "1", "--recipient", str(rid),
                     "--domain", "feedback.corpus.test", "--account", account],
                    env=env, check=True, capture_output=True, text=True).stdout.strip()
                data = open(path, "rb").read().replace(b"\r\n", b"\n").replace(b"\n", b"\r\n")
                bare_cr = b"\r" in data.replace(b"\r\n", b"")
                try:
                    smtp.sendmail("", [address], data)
                    self.assertFalse(bare_cr, "%s has a bare CR and was accepted" % path)
                except smtplib.SMTPDataError as err:
                    # A bare CR is refused whole (SMTP smuggling), as a real sample shows here.
                    if bare_cr and err.smtp_code == 554 and b"5.6.11" in err.smtp_error:
                        bare_cr_refused += 1
                        continue
                    refused.append((os.path.basename(path), str(err)[:200]))
                    smtp.rset()
                    continue
                golden = path[:-4] + ".expected.json"
                records = [json.loads(l) for l in open(golden) if l.strip()]
                expected[rid] = collections.Counter(
                    (r["recipient"].lower(), r["reason"], r["disposition"]) for r in records if r["index"] > 0)
            smtp.quit()
            self.assertEqual(refused, [], "messages refused by the server")

            got = collections.defaultdict(collections.Counter)
            rows = psql(db_url, "SELECT recipient_id, coalesce(recipient, ''), reason, disposition "
                                "FROM bounce_events WHERE mailing_id = 1")
            for line in rows.splitlines():
                rid, recipient, reason, disposition = line.split("|")
                got[int(rid)][(recipient, reason, disposition)] += 1
            mismatches = [(os.path.basename(files[rid - 1]), dict(want), dict(got.get(rid, {})))
                          for rid, want in expected.items() if got.get(rid, collections.Counter()) != want]
            stored = int(psql(db_url, "SELECT count(*) FROM raw_messages"))
            print("fixtures stored: %d (refused for a bare CR: %d), raw messages: %d, events: %d, mismatches: %d"
                  % (len(expected), bare_cr_refused, stored, sum(sum(c.values()) for c in got.values()),
                     len(mismatches)))
            self.assertEqual(stored, len(expected))
            self.assertEqual(mismatches[:5], [])
        finally:
            proc.send_signal(signal.SIGTERM)
            code = proc.wait(timeout=60)
            psql(ARGS.pg_admin_url, "DROP DATABASE IF EXISTS %s WITH (FORCE)" % dbname)
            tmp.cleanup()
        self.assertEqual(code, 0)


if __name__ == "__main__":
    parser = argparse.ArgumentParser()
    parser.add_argument("--reboundd", required=True)
    parser.add_argument("--rebound", required=True)
    parser.add_argument("--pg-admin-url", required=True)
    parser.add_argument("--fixtures", required=True)
    ARGS, rest = parser.parse_known_args()
    unittest.main(argv=[sys.argv[0]] + rest, verbosity=2)
