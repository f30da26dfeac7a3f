"""The rule editor's screens, mounted under /routing/rules/ by routing/urls.py (namespace "routing")."""

from django.urls import path

from routing.editor import views as v

urlpatterns = [
    path("", v.editor_home, name="editor-home"),
    path("sets/<int:rule_set_id>/draft/", v.draft_create, name="editor-draft-create"),
    path("sets/<int:rule_set_id>/history/", v.ruleset_history_view, name="editor-history"),
    path("versions/<int:version_id>/", v.version_detail, name="editor-version"),
    path("versions/<int:version_id>/rules/new/", v.rule_new, name="editor-rule-new"),
    path("versions/<int:version_id>/rules/form/", v.rule_form_preview, name="editor-rule-form"),
    path("versions/<int:version_id>/reorder/", v.rules_reorder, name="editor-reorder"),
    path("versions/<int:version_id>/diff/", v.version_diff_view, name="editor-diff"),
    path("versions/<int:version_id>/publish/", v.version_publish, name="editor-publish"),
    path("versions/<int:version_id>/rollback/", v.version_rollback, name="editor-rollback"),
    path("versions/<int:version_id>/discard/", v.draft_discard, name="editor-discard"),
    path("versions/<int:version_id>/test/", v.order_test, name="editor-test"),
    path("versions/<int:version_id>/test/orders/", v.order_search, name="editor-test-orders"),
    path("versions/<int:version_id>/simulate/", v.simulation_new, name="editor-simulate"),
    path("rules/<int:rule_id>/edit/", v.rule_edit, name="editor-rule-edit"),
    path("rules/<int:rule_id>/toggle/", v.rule_toggle, name="editor-rule-toggle"),
    path("rules/<int:rule_id>/delete/", v.rule_delete, name="editor-rule-delete"),
    path("simulations/<int:simulation_id>/", v.simulation_detail, name="editor-simulation"),
    path("simulations/<int:simulation_id>/orders.csv", v.simulation_orders_csv, name="editor-simulation-orders"),
]
