"""The pure parts of values/stdtypes.py: POSIX TZ rules, Time.String's layout,
big.Float's shortest digits (against Go's own %v output) and IPv6 text."""

from __future__ import annotations

import ipaddress
import random
from pathlib import Path

from goext_core.values.stdtypes import Zone, format_shortest, format_time, ipv6_text, shortest_decimal, tzset


def _unix(year: int, month: int, day: int, hour: int = 0) -> int:
    import datetime

    moment = datetime.datetime(year, month, day, hour, tzinfo=datetime.timezone.utc)
    return int(moment.timestamp())


def test_tz_rules_pick_standard_or_daylight_time() -> None:
    new_york = "EST5EDT,M3.2.0,M11.1.0"
    assert tzset(new_york, _unix(2250, 8, 1, 16)) == ("EDT", -4 * 3600)
    assert tzset(new_york, _unix(2250, 1, 1)) == ("EST", -5 * 3600)
    # 2021: DST starts 14 March 07:00 UTC (02:00 EST)
    assert tzset(new_york, _unix(2021, 3, 14, 6)) == ("EST", -5 * 3600)
    assert tzset(new_york, _unix(2021, 3, 14, 7)) == ("EDT", -4 * 3600)
    sydney = "AEST-10AEDT,M10.1.0,M4.1.0/3"  # southern hemisphere: the names swap
    assert tzset(sydney, _unix(2031, 12, 25, 7)) == ("AEDT", 11 * 3600)
    assert tzset(sydney, _unix(2031, 6, 1)) == ("AEST", 10 * 3600)
    assert tzset("<+0545>-5:45", 0) == ("+0545", 5 * 3600 + 45 * 60)
    assert tzset("IST-5:30", 0) == ("IST", 5 * 3600 + 30 * 60)
    assert tzset("XY5", 0) is None  # a name needs three letters
    assert tzset("EST5EDT,M13.1.0,M11.1.0", 0) is None


def test_time_string_layout() -> None:
    zone = Zone("LMT", -17762, "America/New_York")
    text, rfc = format_time(_unix(1850, 5, 1, 4) + 17762 - 4 * 3600, 0, zone, None)
    assert text == "1850-05-01 00:00:00 -0456 LMT" and rfc == "1850-05-01T00:00:00-04:56"
    text, rfc = format_time(0, 500_000_000, Zone("", 20700, ""), -1_500_000_000)
    assert text == "1970-01-01 05:45:00.5 +0545 +0545 m=-1.500000000"
    text, _ = format_time(-62135596800, 0, Zone("UTC", 0, "UTC"), None)
    assert text == "0001-01-01 00:00:00 +0000 UTC"


def test_big_float_shortest_digits_are_go_s() -> None:
    data = Path(__file__).resolve().parent.parent / "unit_data" / "bigfloat_shortest.txt"
    checked = 0
    for line in data.read_text().splitlines():
        if line.startswith("#"):
            continue
        precision, mantissa, exponent, want = line.split()
        sign = "-" if mantissa.startswith("-") else ""
        for minor in (22, 27):
            digits, point = shortest_decimal(abs(int(mantissa)), int(exponent), int(precision), minor)
            assert sign + format_shortest(digits, point) == want, line
        checked += 1
    assert checked == 400


def test_shortest_format() -> None:
    assert format_shortest("15", 1) == "1.5"
    assert format_shortest("1", 31) == "1e+30"
    assert format_shortest("1", -4) == "1e-05"
    assert format_shortest("1", -3) == "0.0001"
    assert format_shortest("123", 6) == "123000"


def test_ipv6_text_compresses_the_first_longest_zero_run() -> None:
    generator = random.Random(5)
    for _ in range(500):
        groups = [generator.choice((0, 0, 0, 1, 0xFFFF, generator.getrandbits(16))) for _ in range(8)]
        raw = b"".join(g.to_bytes(2, "big") for g in groups)
        address = ipaddress.IPv6Address(raw)
        if address.ipv4_mapped is not None:
            continue  # Python spells these differently across versions
        assert ipv6_text(raw) == str(address), groups
