"""The wrk driver of the benchmark: bench/drive.py BASE_URL measures any server
that speaks the simplejwt API with the scenarios of bench/wrk/."""
