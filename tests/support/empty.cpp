// Keeps sj_test_support non-empty when no other support file exists.
