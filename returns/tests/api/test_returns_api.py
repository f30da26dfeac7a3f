from common import roles
from conftest import api_for, make_user
from inventory.models import InventoryMovement
from orders.models import ApiClient
from returns.models import ReturnAuthorization
from returns.services import ReceiveLineIn, rma_receive
from returns.tests.conftest import shipped_order

URL = "/api/v1/returns/"


def test_channel_client_creates_a_return(api, delivered, store):
    body = {"order": delivered.number, "lines": [{"sku": "SKU-A", "quantity": 2, "reason": "size_fit"}]}
    r = api.post(URL, body, format="json", headers={"Idempotency-Key": "ret-1"})
    assert r.status_code == 201, r.content
    data = r.json()
    assert data["status"] == "approved" and data["return_location"] == "STORE-0001" and data["source"] == "api"
    assert data["refund"] == {
        "status": "pending",
        "amount": "20.00",
        "currency": "USD",
        "reference": "",
        "issued_at": None,
    }
    assert data["lines"][0]["sku"] == "SKU-A" and data["lines"][0]["line_number"] == 1
    assert data["decision"]["location"] == "STORE-0001"
    assert data["decision"]["candidates"][0]["location"] == "STORE-0001"
    assert data["decision"]["rules_fired"] == [
        {
            "id": data["decision"]["rules_fired"][0]["id"],
            "name": "Dropship suppliers never take returns",
            "action": "exclude",
        }
    ]
    again = api.post(URL, body, format="json", headers={"Idempotency-Key": "ret-1"})
    assert again.status_code == 200 and again.json()["number"] == data["number"]
    assert ReturnAuthorization.objects.count() == 1
    assert api.get(URL).json()["results"][0]["number"] == data["number"]
    assert api.get(f"{URL}{data['number']}/").json()["lines"][0]["quantity"] == 2


def test_eligibility_errors_name_the_line(api, delivered):
    r = api.post(URL, {"order": delivered.number, "lines": [{"sku": "SKU-A", "quantity": 5}]}, format="json")
    assert r.status_code == 400
    assert r.json()["lines"] == [
        "Line 1 (SKU SKU-A): 5 requested but only 3 can be returned (3 shipped, 0 already returned, 0 on open returns)."
    ]
    r = api.post(URL, {"order": delivered.number, "lines": [{"quantity": 1}]}, format="json")
    assert r.status_code == 400 and "sku or line_number" in str(r.json()["lines"])


def test_api_client_only_sees_and_returns_its_channels_orders(delivered, marketplace, dc, store):
    other = make_user("mkt-api", roles.API_CLIENT)
    ApiClient.objects.create(user=other, channel=marketplace)
    client = api_for(other)
    r = client.post(URL, {"order": delivered.number, "lines": [{"sku": "SKU-A", "quantity": 1}]}, format="json")
    assert r.status_code == 400 and r.json()["order"] == [f"No order {delivered.number!r} on channel 'mkt'."]
    ops = api_for(make_user("ops2", roles.OPERATIONS))
    number = ops.post(URL, {"order": delivered.number, "lines": [{"sku": "SKU-A", "quantity": 1}]}, format="json")
    number = number.json()["number"]
    assert client.get(f"{URL}{number}/").status_code == 404
    assert client.get(URL).json()["results"] == []


def test_store_staff_and_anonymous_are_refused(delivered, store_user):
    assert api_for(None).get(URL).status_code in (401, 403)
    assert api_for(store_user).get(URL).status_code == 403


def test_in_store_in_transit_and_refund(api, ops_api, delivered, store_b, product_b):
    r = api.post(
        URL,
        {
            "order": delivered.number,
            "method": "in_store",
            "store": "STORE-0002",
            "lines": [{"line_number": 2, "quantity": 1, "reason": "defective"}],
        },
        format="json",
    )
    assert r.status_code == 201 and r.json()["return_location"] == "STORE-0002"
    number = r.json()["number"]
    r = api.post(f"{URL}{number}/in-transit", {"tracking_number": "X"}, format="json")
    assert r.status_code == 400 and "in-store return" in str(r.json())
    rma = ReturnAuthorization.objects.get(number=number)
    rma_receive(rma=rma, lines=[ReceiveLineIn(rma.lines.get().pk, 1, "defective", "return_to_vendor")])
    assert api.post(f"{URL}{number}/refund", {}, format="json").status_code == 403
    r = ops_api.post(f"{URL}{number}/refund", {"reference": "PAY-9"}, format="json")
    assert r.status_code == 200 and r.json()["refund"]["status"] == "issued" and r.json()["status"] == "closed"
    assert not InventoryMovement.objects.filter(reason="return").exists()


def test_mail_in_transit(api, web, dc, store, product):
    order = shipped_order(channel=web, lines=[(product, 1)], location=dc)
    number = api.post(URL, {"order": order.number, "lines": [{"sku": "SKU-A", "quantity": 1}]}, format="json")
    number = number.json()["number"]
    r = api.post(f"{URL}{number}/in-transit", {"tracking_number": "1ZBACK"}, format="json")
    assert r.status_code == 200 and r.json()["status"] == "in_transit" and r.json()["tracking_number"] == "1ZBACK"
