from fastapi.testclient import TestClient

CONTRACT = {
    "/api/v1/auth/login": {"post"},
    "/api/v1/auth/logout": {"post"},
    "/api/v1/me": {"get"},
    "/api/v1/studies": {"get", "post"},
    "/api/v1/studies/{study_id}": {"get"},
    "/api/v1/studies/{study_id}/codebooks": {"get"},
    "/api/v1/codebooks/{codebook_id}/codes": {"post"},
    "/api/v1/codes/{code_id}": {"patch", "delete"},
    "/api/v1/studies/{study_id}/structures": {"post"},
    "/api/v1/studies/{study_id}/counsellors": {"post"},
    "/api/v1/studies/{study_id}/interviews": {"post"},
    "/api/v1/studies/{study_id}/recordings": {"get", "post"},
    "/api/v1/recordings/{recording_id}": {"get", "delete"},
    "/api/v1/recordings/{recording_id}/retry": {"post"},
    "/api/v1/recordings/{recording_id}/cancel": {"post"},
    "/api/v1/recordings/{recording_id}/media": {"get"},
    "/api/v1/recordings/{recording_id}/poster": {"get"},
    "/api/v1/recordings/{recording_id}/waveform": {"get"},
    "/api/v1/recordings/{recording_id}/thumbnails.vtt": {"get"},
    "/api/v1/recordings/{recording_id}/transcript": {"post"},
    "/api/v1/recordings/{recording_id}/transcript.vtt": {"get"},
    "/api/v1/uploads/": {"post"},
    "/api/v1/uploads/{uuid}": {"head", "patch", "delete"},
    "/api/v1/recordings/{recording_id}/annotations": {"get", "post"},
    "/api/v1/annotations/{annotation_id}": {"get", "patch", "delete"},
}


def test_openapi_documents_the_contract(client: TestClient) -> None:
    schema = client.get("/api/v1/openapi.json").json()
    for path, methods in CONTRACT.items():
        assert path in schema["paths"], path
        assert methods <= set(schema["paths"][path]), path
    assert not any(p.startswith("/studies") or p == "/login" for p in schema["paths"])
    annotation = schema["components"]["schemas"]["AnnotationPublic"]["properties"]
    assert {"start_ms", "end_ms", "code_ids", "note", "fields", "origin", "version"} <= set(
        annotation
    )
    upload = schema["paths"]["/api/v1/studies/{study_id}/recordings"]["post"]
    assert "multipart/form-data" in upload["requestBody"]["content"]
