def test_seeded_comparison_answers(api, seeded):
    assert api.get("/api/v1/comparisons/code-llama-4-vs-mistral-large-3/").status_code == 200
