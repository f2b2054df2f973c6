def test_home_lists_the_catalogue_in_each_language(client, catalogue):
    expectations = [("zh-hans", "智能算力"), ("zh-hant", "智能算力"), ("en", "computing")]
    for language, expected in expectations:
        response = client.get("/", HTTP_ACCEPT_LANGUAGE=language)
        assert response.status_code == 200
        assert expected in response.content.decode()
