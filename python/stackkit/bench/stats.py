"""The arithmetic of the report: medians over runs, ratios between cases, and
CPU shares from clock ticks, rounded as the report prints them."""

import statistics


def median(values):
    """The median of the values, None if there are none. With an even count it
    is the mean of the middle two to three decimals, a whole number as an int."""
    values = list(values)
    if not values:
        return None
    middle = statistics.median(values)
    if len(values) % 2:
        return middle
    middle = round(middle, 3)
    return int(middle) if middle.is_integer() else middle


def ratio(numerator, denominator):
    """numerator / denominator to three decimals; None if either is missing or
    the denominator is not positive."""
    if numerator is None or denominator is None or denominator <= 0:
        return None
    return round(numerator / denominator, 3)


def overhead_percent(on, off):
    """What `on` costs against `off`, in per cent of `off`: 1 - on/off."""
    if off is None or on is None or off <= 0:
        return None
    return round((1 - on / off) * 100, 2)


def cpu_us_per_request(cpu_seconds, requests):
    """Microseconds of CPU per request answered, to two decimals; None if
    either is missing."""
    if cpu_seconds is None or not requests:
        return None
    return round(cpu_seconds / requests * 1e6, 2)


def cpu_percent(ticks_before, ticks_after, seconds, ticks_per_second):
    """CPU use between two tick counts as a whole per cent of one core."""
    if ticks_before is None or ticks_after is None or seconds <= 0:
        return None
    return round((ticks_after - ticks_before) / ticks_per_second / seconds * 100)


def noise_percent(busy_seconds, measured_seconds, seconds):
    """Per cent of one CPU's time that went to anything but the measured
    processes: its busy time less theirs, never below zero."""
    if seconds <= 0:
        return None
    return max(0, round((busy_seconds - measured_seconds) / seconds * 100))


def mib(kib):
    return None if kib is None else round(kib / 1024, 1)


def histogram_quantile(q, buckets):
    """The q-quantile of a Prometheus histogram given as {upper bound:
    cumulative count} (with +Inf), as PromQL's histogram_quantile: linear
    inside the bucket that holds it; None if it is empty or the quantile
    lies in the +Inf bucket."""
    bounds = sorted(buckets)
    if not bounds or buckets[bounds[-1]] <= 0:
        return None
    rank = q * buckets[bounds[-1]]
    lower, below = 0.0, 0.0
    for bound in bounds:
        if buckets[bound] >= rank:
            if bound == float("inf"):
                return None
            inside = buckets[bound] - below
            return lower + (bound - lower) * ((rank - below) / inside if inside else 1.0)
        lower, below = bound, buckets[bound]
    return None


def slope_per_minute(points):
    """The least-squares slope of (seconds, value) points, per minute; None
    with fewer than two distinct times."""
    if len(points) < 2:
        return None
    mean_t = sum(t for t, _ in points) / len(points)
    mean_v = sum(v for _, v in points) / len(points)
    spread = sum((t - mean_t) ** 2 for t, _ in points)
    if spread == 0:
        return None
    return sum((t - mean_t) * (v - mean_v) for t, v in points) / spread * 60
