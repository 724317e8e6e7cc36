from django.contrib import admin


class ReadOnlyAdmin(admin.ModelAdmin):
    """For records only services write (ledgers, events, audit rows): staff read and search, never edit."""

    def get_readonly_fields(self, request, obj=None):
        return [field.name for field in self.model._meta.fields]

    def has_add_permission(self, request):
        return False

    def has_change_permission(self, request, obj=None):
        return False

    def has_delete_permission(self, request, obj=None):
        return False
