#!/usr/bin/python3
"""The gRPC API from Python: stubs generated from proto/ with grpc_tools, a real reboundd
process, a real PostgreSQL database (created from the admin URL and dropped at the end).

usage: test_api.py --reboundd PATH --pg-admin-url CONNINFO --proto-dir DIR
"""
import argparse
import os
import re
import signal
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
    parts = [p for p in url.split() if not p.startswith("dbname=")]
    return " ".join(parts + ["dbname=" + name])


class ApiFromPython(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.tmp = tempfile.TemporaryDirectory(prefix="rebound-py-")
        gen = os.path.join(cls.tmp.name, "gen")
        os.makedirs(gen)
        from grpc_tools import protoc
        import grpc_tools
        includes = ["-I" + ARGS.proto_dir]
        # google/protobuf/*.proto: from grpc_tools where it ships them, else Debian's libprotobuf-dev.
        for d in (os.path.join(os.path.dirname(grpc_tools.__file__), "_proto"), "/usr/include"):
            if os.path.exists(os.path.join(d, "google/protobuf/timestamp.proto")):
                includes.append("-I" + d)
                break
        protos = [os.path.join("rebound/v1", f) for f in sorted(os.listdir(os.path.join(ARGS.proto_dir, "rebound/v1")))
                  if f.endswith(".proto")]
        rc = protoc.main(["protoc"] + includes + ["--python_out=" + gen, "--grpc_python_out=" + gen] + protos)
        assert rc == 0, "protoc failed"
        sys.path.insert(0, gen)

        cls.dbname = "rebound_py_%d" % os.getpid()
        psql(ARGS.pg_admin_url, "CREATE DATABASE %s" % cls.dbname)
        cls.db_url = with_db(ARGS.pg_admin_url, cls.dbname)
        cls.admin_key = "python-admin-key-0123456789"
        env = dict(os.environ, REBOUND_DATABASE_URL=cls.db_url, REBOUND_DATA_DIR=os.path.join(cls.tmp.name, "data"),
                   REBOUND_GRPC_LISTEN="127.0.0.1:0", REBOUND_SMTP_LISTEN="127.0.0.1:0", REBOUND_DNS_RECHECK_ENABLED="false",
                   REBOUND_GRPC_ADMIN_KEY=cls.admin_key, REBOUND_MASTER_KEY="ab" * 32)
        cls.log = open(os.path.join(cls.tmp.name, "reboundd.log"), "w+")
        cls.proc = subprocess.Popen([ARGS.reboundd], env=env, stderr=cls.log, stdin=subprocess.DEVNULL)
        address = None
        for _ in range(300):
            cls.log.seek(0)
            m = re.search(r"event=grpc\.listening address=(\S+)", cls.log.read())
            if m:
                address = m.group(1)
                break
            time.sleep(0.1)
        assert address, "reboundd did not start"

        import grpc
        from rebound.v1 import account_pb2, account_pb2_grpc, envelope_pb2, envelope_pb2_grpc, system_pb2, system_pb2_grpc
        cls.grpc, cls.apb, cls.epb, cls.spb = grpc, account_pb2, envelope_pb2, system_pb2
        cls.channel = grpc.insecure_channel(address)
        grpc.channel_ready_future(cls.channel).result(timeout=10)
        cls.accounts = account_pb2_grpc.AccountServiceStub(cls.channel)
        cls.envelope = envelope_pb2_grpc.EnvelopeServiceStub(cls.channel)
        cls.system = system_pb2_grpc.SystemServiceStub(cls.channel)

    @classmethod
    def tearDownClass(cls):
        cls.channel.close()
        cls.proc.send_signal(signal.SIGTERM)
        code = cls.proc.wait(timeout=30)
        psql(ARGS.pg_admin_url, "DROP DATABASE IF EXISTS %s WITH (FORCE)" % cls.dbname)
        cls.tmp.cleanup()
        assert code == 0, "reboundd exited with %d" % code

    def admin(self):
        return (("authorization", "Bearer " + self.admin_key),)

    def new_account(self, name):
        account = self.accounts.CreateAccount(self.apb.CreateAccountRequest(name=name), metadata=self.admin())
        psql(self.db_url, "INSERT INTO sender_domains (account_id, domain, feedback_domain) VALUES "
                          "(%d, '%s.test', 'feedback.%s.test')" % (account.id, name, name))
        key = self.accounts.CreateApiKey(self.apb.CreateApiKeyRequest(account_id=account.id), metadata=self.admin())
        return account, (("authorization", "Bearer " + key.api_key),)

    def test_system_info(self):
        info = self.system.GetInfo(self.spb.GetInfoRequest())
        self.assertGreaterEqual(info.schema_version, 1)
        self.assertEqual(info.schema_version, info.known_schema_version)

    def test_generate_and_decode(self):
        account, auth = self.new_account("pyone")
        resp = self.envelope.GenerateAddresses(
            self.epb.GenerateAddressesRequest(mailing_id=7, recipient_ids=[1, 2, 2**64 - 1]), metadata=auth)
        self.assertEqual(len(resp.addresses), 3)
        for rid, address in zip([1, 2, 2**64 - 1], resp.addresses):
            self.assertTrue(address.endswith("@feedback.pyone.test"), address)
            decoded = self.envelope.DecodeAddress(self.epb.DecodeAddressRequest(address=address.upper()), metadata=auth)
            self.assertEqual(decoded.status, self.epb.TOKEN_STATUS_VALID)
            self.assertEqual((decoded.mailing_id, decoded.recipient_id, decoded.account_id), (7, rid, account.id))

    def test_streaming(self):
        _, auth = self.new_account("pytwo")
        reqs = [self.epb.StreamGenerateAddressesRequest(
            mailing_id=9, batch_id=1, ranges=[self.epb.RecipientRange(first=100, count=12345)])]
        got = []
        for resp in self.envelope.StreamGenerateAddresses(iter(reqs), metadata=auth):
            self.assertEqual(resp.offset, len(got))
            got.extend(resp.addresses)
        self.assertEqual(len(got), 12345)
        self.assertEqual(len(set(got)), 12345)

    def test_errors_are_statuses(self):
        _, auth = self.new_account("pythree")
        with self.assertRaises(self.grpc.RpcError) as err:
            self.envelope.GenerateAddresses(self.epb.GenerateAddressesRequest(mailing_id=1, recipient_ids=[1]))
        self.assertEqual(err.exception.code(), self.grpc.StatusCode.UNAUTHENTICATED)
        with self.assertRaises(self.grpc.RpcError) as err:
            self.envelope.GenerateAddresses(
                self.epb.GenerateAddressesRequest(mailing_id=1, recipient_ids=list(range(10001))), metadata=auth)
        self.assertEqual(err.exception.code(), self.grpc.StatusCode.INVALID_ARGUMENT)
        self.assertIn("recipient_ids", err.exception.details())
        with self.assertRaises(self.grpc.RpcError) as err:
            self.accounts.CreateAccount(self.apb.CreateAccountRequest(name="x"), metadata=auth)
        self.assertEqual(err.exception.code(), self.grpc.StatusCode.PERMISSION_DENIED)


if __name__ == "__main__":
    parser = argparse.ArgumentParser()
    parser.add_argument("--reboundd", required=True)
    parser.add_argument("--pg-admin-url", required=True)
    parser.add_argument("--proto-dir", required=True)
    ARGS, rest = parser.parse_known_args()
    unittest.main(argv=[sys.argv[0]] + rest, verbosity=2)
