from tests.conftest import COMPANY, CONFIRM, PROFILE, FlowClient


def test_onboarding_runs_to_its_result_anonymously(client: FlowClient) -> None:
    started = client.start()
    assert started.status_code == 201
    profile = client.submit(started.json(), PROFILE).json()
    company = client.submit(profile, COMPANY).json()
    done = client.submit(company, CONFIRM)

    assert done.status_code == 200
    assert done.json()["kind"] == "complete"
    assert done.json()["result"] == {
        "email": "ada@example.com",
        "name": "Ada",
        "company": "Analytical Engines",
        "size": "m",
    }


def test_onboarding_steps_are_profile_company_confirm(client: FlowClient) -> None:
    descriptor = client.start().json()
    names = []
    for data in (PROFILE, COMPANY):
        names.append(descriptor["step"]["name"])
        descriptor = client.submit(descriptor, data).json()
    names.append(descriptor["step"]["name"])
    assert names == ["profile", "company", "confirm"]
    assert descriptor["form"]["schema"]["properties"]["accept"]["type"] == "boolean"


def test_confirm_refuses_accept_false(client: FlowClient) -> None:
    descriptor = client.start().json()
    descriptor = client.submit(descriptor, PROFILE).json()
    descriptor = client.submit(descriptor, COMPANY).json()
    refused = client.submit(descriptor, {"accept": False})
    assert refused.status_code == 400
    assert refused.json()["errors"] == [
        {
            "code": "must_accept",
            "message": "You must accept the terms to go on.",
            "field": "accept",
        }
    ]


def test_company_size_is_one_of_s_m_l(client: FlowClient) -> None:
    descriptor = client.submit(client.start().json(), PROFILE).json()
    size = descriptor["form"]["schema"]["properties"]["size"]
    assert [choice["const"] for choice in size["oneOf"]] == ["s", "m", "l"]
    refused = client.submit(descriptor, {"company": "X", "size": "xl"})
    assert refused.status_code == 400
    assert refused.json()["errors"][0]["field"] == "size"


def test_initial_data_prefills_declared_fields_only(client: FlowClient) -> None:
    started = client.start(initial_data={"email": "ada@example.com", "role": "admin"}).json()
    assert started["form"]["data"] == {"email": "ada@example.com"}
