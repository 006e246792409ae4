"""Steps on the sandbox's own pages (Xero's sign-in and consent), shared by browser tests."""
XERO_USER, XERO_PASSWORD = "demo@xero.example", "xero-demo"


def sign_in_to_xero_and_consent(page, tenant_names):
    """On the sandbox's Xero pages: sign in (when asked), tick each organisation, Allow access."""
    if page.locator("#email").count():
        page.fill("#email", XERO_USER)
        page.fill("#password", XERO_PASSWORD)
        page.click("button[type=submit]")
    for name in tenant_names:
        page.get_by_label(name).check()
    page.click("#allow")
