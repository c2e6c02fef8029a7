"""handle() natively: fake_host stands in for the gateway."""

import json
import unittest

from fake_host import Err, host
import app


class HandleTest(unittest.TestCase):
    def setUp(self):
        host.reset()

    def test_greets_and_lists_the_accounts(self):
        records = [{"Name": "Zeta"}, {"Name": "Acme"}]
        host.answer(200, json.dumps({"totalSize": 2, "done": True, "records": records}))
        response = app.WitWorld().handle(None)
        self.assertEqual(response.status, 200)
        self.assertEqual(json.loads(response.body), {"greeting": "hello", "accounts": ["Acme", "Zeta"]})
        self.assertEqual(len(host.sent), 1)
        self.assertTrue(host.sent[0].path.startswith("query?q=SELECT"))

    def test_passes_a_fault_on(self):
        host.answer(400, "[]", fault=("INVALID_FIELD", "no such field"))
        with self.assertRaises(Err) as raised:
            app.WitWorld().handle(None)
        self.assertEqual(raised.exception.value.value.value.code, "INVALID_FIELD")


if __name__ == "__main__":
    unittest.main()
