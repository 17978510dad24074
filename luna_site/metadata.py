"""``OPTIONS`` on every API view."""

from rest_framework.metadata import SimpleMetadata


class Metadata(SimpleMetadata):
    """``OPTIONS`` on every view. DRF describes the POST/PUT input through the view's serializer and a
    view without ``serializer_class`` then crashes (DESIGN §6): such views describe no ``actions``."""

    def determine_actions(self, request, view):
        from rest_framework.generics import GenericAPIView  # here: DRF's views module imports this one

        has_serializer = (getattr(view, "serializer_class", None) is not None
                          or type(view).get_serializer_class is not GenericAPIView.get_serializer_class)
        return super().determine_actions(request, view) if has_serializer else {}
