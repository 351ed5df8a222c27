"""Run by the `run` step in a fresh interpreter: `python3 -m unittest -q test_calc`."""

import unittest

import calc


class CalcTest(unittest.TestCase):
    def test_add(self):
        self.assertEqual(calc.add(2, 3), 5)

    def test_mul(self):
        self.assertEqual(calc.mul(4, 5), 20)


if __name__ == "__main__":
    unittest.main()
