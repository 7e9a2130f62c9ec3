"""The secretariat's domain: review rules, review results, sampling, experts."""
