from data.contract import TABLES, Kind

INT32 = (-(2**31), 2**31 - 1)


def test_every_whole_number_column_has_a_range_that_fits_its_copy() -> None:
    # Validation keeps whole numbers as DOUBLE until their range rule has held, then casts
    # them to INTEGER: a column without a range inside INTEGER would fail that cast.
    columns = [c for t in TABLES.values() for c in t.columns if c.kind is Kind.INTEGER]
    assert columns
    for column in columns:
        assert column.min_value is not None and column.max_value is not None, column.name
        assert INT32[0] <= column.min_value <= column.max_value <= INT32[1], column.name
